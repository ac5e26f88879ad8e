// What one optimizer step waits for: through a backend that counts host traffic, the reads
// back to the host (each a wait for the device) and the uploads of a training step are a
// small constant, the same with 1 or 4 micro-batches, and with a few LoRA tensors or every
// weight of the model trainable.
//
// The constant: 2 reads (the step's numbers: gradient norm, non-finite count and each
// micro-batch's loss, in one copy; and the optimizer's step counts) and 3 uploads (the
// step's token rows, the loss gradient's seed, the step counts written back).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "engine/config/job.hpp"
#include "engine/plugins/registry.hpp"
#include "engine/train/setup.hpp"
#include "engine/train/train_step.hpp"
#include "support/backends.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
const fs::path kModel = fs::path(FTENGINE_SHARED_TESTDATA) / "models" / "stories260K-hf";

struct Traffic {
  int reads, uploads;
};

// Runs steps 1 and 2 of a job on stories260K through a counting CPU backend; the traffic of
// step 2 (step 1 also builds the GEMM primitives and the optimizer's first state).
Traffic step_traffic(const std::string& adapter, std::int64_t grad_accum) {
  const std::string toml = fmt::format(R"(
[model]
path = "{}"
[adapter]
plugin = "{}"
[data]
train = "unused.jsonl"
seq_len = 16
[train]
batch_size = 2
grad_accum = {}
grad_clip = 0.5
[backend]
plugin = "cpu"
)",
                                       kModel.string(), adapter, grad_accum);
  const Job job = load_job_from_string(toml, fs::temp_directory_path() / "traffic.toml");
  auto registry = std::make_unique<PluginRegistry>();
  registry->scan({FTENGINE_BUILD_PLUGIN_DIR});
  auto owned = std::make_unique<ft::testing::CountingBackend>(ft::testing::cpu());
  ft::testing::CountingBackend& counting = *owned;
  TrainingSetup setup = set_up_training(job, Plugins{std::move(registry), std::move(owned)});

  std::vector<TokenRow> rows;
  std::vector<std::int64_t> step_rows;
  for (std::int64_t r = 0; r < 2 * grad_accum; ++r) {
    TokenRow row;
    for (std::int32_t t = 0; t < 16; ++t) {
      row.tokens.push_back(1 + (7 * t + 3 * static_cast<std::int32_t>(r)) % 500);
      row.targets.push_back(t == 15 ? kIgnoreTarget : 1 + (7 * t + 7) % 500);
      row.positions.push_back(t);
      row.doc_ids.push_back(0);
    }
    rows.push_back(row);
    step_rows.push_back(r);
  }
  std::uint64_t micro_batch = 0;
  (void)train_step(setup, job, rows, step_rows, 1, 1e-3, micro_batch);
  counting.reset_counts();
  const StepOutcome out = train_step(setup, job, rows, step_rows, 2, 1e-3, micro_batch);
  EXPECT_TRUE(std::isfinite(out.loss) && out.loss > 0) << out.loss;
  EXPECT_GT(counting.gemm_calls, 0);
  return {counting.host_reads, counting.host_uploads};
}

TEST(StepTraffic, IsASmallConstantWhateverTheParametersAndMicroBatches) {
  if (!fs::exists(kModel / "model.safetensors"))
    GTEST_SKIP() << "no stories260K-hf in ../shared/testdata";
  for (const std::string adapter : {"lora", "full"})
    for (const std::int64_t grad_accum : {1, 4}) {
      SCOPED_TRACE(adapter + ", grad_accum " + std::to_string(grad_accum));
      const Traffic t = step_traffic(adapter, grad_accum);
      EXPECT_EQ(t.reads, 2);
      EXPECT_EQ(t.uploads, 3);
    }
}

}  // namespace
}  // namespace ft::engine
