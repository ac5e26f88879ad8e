// train.precision end to end, through the real binary: bf16 training follows f32 training
// closely (LoRA and full fine-tuning), resumes bit for bit, and resolves per machine —
// `auto` to bf16 only where the CPU has AVX512-BF16 or AMX-BF16, an explicit bf16 to f32
// with one line saying why where it has not — with the resolved value recorded, so a resume
// that would resolve otherwise is refused unless forced.
//
// bf16 runs here on every machine through backend.emulate_bf16 (oneDNN's emulation on
// AVX-512, rounded operands on AVX2); ONEDNN_MAX_CPU_ISA=AVX2 makes any machine an AVX2 one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "tests/engine/train/train_test_util.hpp"

namespace ft::testing {
namespace {

constexpr const char* kBf16 = "--set train.precision=bf16 --set backend.emulate_bf16=true";
constexpr const char* kF32 = "--set train.precision=f32";

// Whether /proc/cpuinfo lists a bf16 dot-product instruction (what `auto` should find).
bool cpu_has_bf16() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("flags")) continue;
    return line.find(" avx512_bf16") != std::string::npos ||
           line.find(" amx_bf16") != std::string::npos;
  }
  return false;
}

std::vector<double> losses(const fs::path& run_dir) {
  std::vector<double> out;
  for (const nlohmann::json& r : records_with(read_metrics(run_dir), "loss"))
    out.push_back(r["loss"].get<double>());
  return out;
}
double final_eval_loss(const fs::path& run_dir) {
  return records_with(read_metrics(run_dir), "eval_loss").back()["eval_loss"].get<double>();
}

// 30 steps of f32 and of bf16: every step's loss within 2%, the final eval loss within 1%,
// and not the same numbers (bf16 did run).
void expect_bf16_follows_f32(const fs::path& f32_run, const fs::path& bf16_run) {
  const std::vector<double> a = losses(f32_run), b = losses(bf16_run);
  ASSERT_EQ(a.size(), 30u);
  ASSERT_EQ(b.size(), a.size());
  bool any_differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(b[i], a[i], 0.02 * a[i]) << "step " << i + 1;
    any_differs |= a[i] != b[i];
  }
  EXPECT_TRUE(any_differs);
  EXPECT_NEAR(final_eval_loss(bf16_run), final_eval_loss(f32_run), 0.01 * final_eval_loss(f32_run));
  EXPECT_LT(b.back(), b.front());  // and it learns
}

TEST_F(TrainTest, Bf16LoraAndFullFineTuningFollowF32) {
  for (const char* method : {"lora", "full"}) {
    SCOPED_TRACE(method);
    const std::string common =
        fmt::format("-q --set adapter.plugin={} --set train.max_steps=30", method);
    const std::string lr = std::string(method) == "full" ? " --set optimizer.lr=0.002" : "";
    const CliResult f32 =
        train(fmt::format("{}{} {} {}", common, lr, kF32, out(std::string(method) + "-f32")));
    ASSERT_EQ(f32.exit_code, 0) << f32.err;
    const CliResult bf16 =
        train(fmt::format("{}{} {} {}", common, lr, kBf16, out(std::string(method) + "-bf16")));
    ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
    expect_bf16_follows_f32(dir_ / (std::string(method) + "-f32"),
                            dir_ / (std::string(method) + "-bf16"));
    const std::string job = read_text_file(dir_ / (std::string(method) + "-bf16") / "job.toml");
    EXPECT_NE(job.find("precision = 'bf16'"), std::string::npos) << job;
  }
}

// Interrupted at step 10 and resumed: the same numbers and bytes as a straight bf16 run.
TEST_F(TrainTest, Bf16ResumesBitForBit) {
  const std::string job =
      fmt::format("{} --set train.save_every=4 --set train.eval_every=5", kBf16);
  ASSERT_EQ(train(fmt::format("-q {} {}", job, out("straight"))).exit_code, 0);
  {
    ScopedEnv signal("FTENGINE_TEST_SIGNAL_AT_STEP", "10");
    ASSERT_EQ(train(fmt::format("-q {} {}", job, out("resumed"))).exit_code, 130);
  }
  const CliResult resumed = train(fmt::format("-q {} {} --resume", job, out("resumed")));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  auto numbers = [](const fs::path& run) {
    std::vector<nlohmann::json> records = read_metrics(run);
    for (nlohmann::json& r : records) {
      r.erase("tokens_per_second");
      r.erase("elapsed_s");
    }
    return records;
  };
  EXPECT_EQ(numbers(dir_ / "straight"), numbers(dir_ / "resumed"));
  for (const char* file :
       {"adapter/adapter_model.safetensors", "checkpoints/step-20/optimizer.safetensors"})
    EXPECT_TRUE(file_bytes(dir_ / "straight" / file) == file_bytes(dir_ / "resumed" / file))
        << file;
}

TEST_F(TrainTest, AutoTakesBf16OnlyWhereTheCpuHasIt) {
  if (std::getenv("ONEDNN_MAX_CPU_ISA") != nullptr)
    GTEST_SKIP() << "ONEDNN_MAX_CPU_ISA caps what oneDNN uses below what /proc/cpuinfo says; "
                    "OnAnAvx2CpuBf16FallsBackToF32WithOneLine tests the cap";
  const CliResult run =
      train(fmt::format("--set train.max_steps=2 --set train.precision=auto {}", out("auto")));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const bool bf16 = cpu_has_bf16();
  EXPECT_NE(run.err.find(bf16 ? "precision: bf16 GEMMs, f32 everything else (auto; cpu "
                                "backend: "
                              : "precision: f32 (auto: the cpu backend has no fast bf16 GEMM: "
                                "no AVX512-BF16 or AMX-BF16)"),
            std::string::npos)
      << run.err;
  const std::string job = read_text_file(dir_ / "auto/job.toml");
  EXPECT_NE(job.find(bf16 ? "precision = 'bf16'" : "precision = 'f32'"), std::string::npos) << job;
}

// As on an AVX2 machine: auto is f32, and bf16 asked for runs f32 — one warning, the same
// numbers as f32 — unless emulated, which then runs the rounded-operand path.
TEST_F(TrainTest, OnAnAvx2CpuBf16FallsBackToF32WithOneLine) {
  const ScopedEnv avx2("ONEDNN_MAX_CPU_ISA", "AVX2");
  const CliResult f32 = train(fmt::format("-q --set train.max_steps=5 {} {}", kF32, out("f32")));
  ASSERT_EQ(f32.exit_code, 0) << f32.err;
  const CliResult asked =
      train(fmt::format("--set train.max_steps=5 --set train.precision=bf16 {}", out("asked")));
  ASSERT_EQ(asked.exit_code, 0) << asked.err;
  const std::string line =
      "warning: precision: f32, not the bf16 asked for: the cpu backend has no fast bf16 GEMM "
      "(no AVX512-BF16 or AMX-BF16), so the job runs in f32";
  const std::size_t at = asked.err.find(line);
  EXPECT_NE(at, std::string::npos) << asked.err;
  EXPECT_EQ(asked.err.find("bf16", asked.err.find('\n', at)), std::string::npos)
      << "said once: " << asked.err;
  EXPECT_EQ(losses(dir_ / "f32"), losses(dir_ / "asked"));

  const CliResult autod =
      train(fmt::format("--set train.max_steps=1 --set train.precision=auto {}", out("auto")));
  EXPECT_NE(autod.err.find("precision: f32 (auto: the cpu backend has no fast bf16 GEMM"),
            std::string::npos)
      << autod.err;

  const CliResult emulated =
      train(fmt::format("--set train.max_steps=5 {} {}", kBf16, out("emulated")));
  ASSERT_EQ(emulated.exit_code, 0) << emulated.err;
  EXPECT_NE(emulated.err.find("emulated by rounding the operands for the f32 GEMM"),
            std::string::npos)
      << emulated.err;
  const std::vector<double> a = losses(dir_ / "f32"), b = losses(dir_ / "emulated");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], a[i], 0.02 * a[i]) << i;
  EXPECT_NE(a, b);
}

// A checkpoint records the precision its run resolved; a resume that resolves another is a
// changed job.
TEST_F(TrainTest, AResumeThatResolvesAnotherPrecisionIsRefusedUnlessForced) {
  {
    ScopedEnv signal("FTENGINE_TEST_SIGNAL_AT_STEP", "2");
    ASSERT_EQ(train(fmt::format("-q --set train.max_steps=4 {}", kBf16)).exit_code, 130);
  }
  const std::string f32 = fmt::format("--set train.max_steps=4 {} --resume", kF32);
  const CliResult refused = train(f32);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("(train.precision: \"bf16\" -> \"f32\")"), std::string::npos)
      << refused.err;
  const CliResult forced = train(f32 + " --force");
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
}

}  // namespace
}  // namespace ft::testing
