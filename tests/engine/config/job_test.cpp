// Valid jobs: the example configs, defaults, path resolution, open sections, the resolved
// job as written to a run directory.
#include "engine/config/job.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> example_configs() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(test::source_dir() / "configs"))
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Configs, EveryExampleIsValid) {
  const std::vector<fs::path> files = example_configs();
  EXPECT_GE(files.size(), 4u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    EXPECT_EQ(test::problem_lines(validate_job(file)), std::vector<std::string>{});
    EXPECT_NO_THROW(load_job(file));
  }
}

TEST(Configs, QuickstartResolvesAsDocumented) {
  const fs::path root = test::source_dir();
  const Job job = load_job(root / "configs/quickstart.toml");
  EXPECT_EQ(job.name, "quickstart");
  EXPECT_EQ(job.file, root / "configs/quickstart.toml");
  EXPECT_EQ(job.model.plugin, "llama");
  EXPECT_EQ(job.model.path, root / "models/tiny");  // relative to configs/
  EXPECT_EQ(job.model.dtype, DType::f32);
  EXPECT_EQ(job.adapter.plugin, "lora");
  EXPECT_EQ(job.adapter.r, 8);
  EXPECT_EQ(job.adapter.alpha, 16.0);
  EXPECT_EQ(job.optimizer.plugin, "adamw");
  EXPECT_EQ(job.optimizer.lr, 3e-3);
  EXPECT_EQ(job.schedule.kind, ScheduleKind::cosine);
  EXPECT_EQ(job.data.train, std::vector<fs::path>{root / "data/quickstart/train.jsonl"});
  EXPECT_EQ(job.data.seq_len, 128);
  EXPECT_EQ(job.train.max_steps, 800);
  EXPECT_EQ(job.backend.plugin, "auto");
  EXPECT_EQ(job.output.dir, root / "runs/quickstart");
}

TEST(Configs, QloraAndFullKeepTheirPluginKeys) {
  const Job qlora = load_job(test::source_dir() / "configs/qlora.toml");
  EXPECT_EQ(qlora.adapter.plugin, "qlora");
  EXPECT_EQ(qlora.adapter.quant_type, QuantType::nf4);
  EXPECT_TRUE(qlora.adapter.double_quant);
  EXPECT_EQ(qlora.adapter.block_size, 64);
  EXPECT_EQ(qlora.data.train.size(), 2u);
  EXPECT_TRUE(qlora.data.eval.has_value());
  EXPECT_TRUE(qlora.train.checkpointing);

  const Job full = load_job(test::source_dir() / "configs/full.toml");
  EXPECT_EQ(full.adapter.plugin, "full");
  EXPECT_EQ(full.adapter.freeze, std::vector<std::string>{"embed_tokens"});
  EXPECT_EQ(full.optimizer.betas[1], 0.95);
  // The resolved job records only what applies to the chosen plugins.
  const toml::table& adapter = *full.resolved["adapter"].as_table();
  EXPECT_FALSE(adapter.contains("r"));
  EXPECT_TRUE(adapter.contains("freeze"));
  EXPECT_TRUE(qlora.resolved["adapter"]["quant_type"]);
}

TEST(Defaults, FillEveryKeyTheJobLeavesOut) {
  const Job job = load_job(test::job_path("valid_minimal.toml"));
  EXPECT_EQ(job.name, "valid_minimal");  // the file name
  EXPECT_EQ(job.model.plugin, "llama");
  EXPECT_EQ(job.model.path, test::jobs_dir() / "models/tiny");
  EXPECT_EQ(job.adapter.r, 8);
  EXPECT_EQ(job.adapter.alpha, 16.0);
  EXPECT_EQ(job.adapter.dropout, 0.0);
  EXPECT_EQ(job.adapter.target_modules.size(), 7u);
  EXPECT_FALSE(job.adapter.use_rslora);
  EXPECT_TRUE(job.adapter.extra.empty());
  EXPECT_EQ(job.optimizer.plugin, "adamw");
  EXPECT_EQ(job.optimizer.lr, 2e-4);
  EXPECT_EQ(job.optimizer.betas, (std::array<double, 2>{0.9, 0.999}));
  EXPECT_EQ(job.optimizer.eps, 1e-8);
  EXPECT_EQ(job.schedule.kind, ScheduleKind::cosine);
  EXPECT_EQ(job.schedule.warmup_steps, 0);
  EXPECT_FALSE(job.schedule.warmup_ratio.has_value());
  EXPECT_EQ(job.schedule.warmup_for(1000), 0);
  EXPECT_EQ(job.data.train, std::vector<fs::path>{test::jobs_dir() / "data/train.jsonl"});
  EXPECT_FALSE(job.data.eval.has_value());
  EXPECT_EQ(job.data.seq_len, 512);
  EXPECT_EQ(job.data.format, DataFormat::auto_detect);
  EXPECT_EQ(job.data.chat_template, "auto");
  EXPECT_FALSE(job.data.on_overflow.has_value());  // split for text, truncate otherwise
  EXPECT_TRUE(job.data.fields.empty());
  EXPECT_TRUE(job.data.weights.empty());
  EXPECT_FALSE(job.data.skip_bad_records);
  EXPECT_EQ(job.train.batch_size, 4);
  EXPECT_EQ(job.train.grad_accum, 1);
  EXPECT_FALSE(job.train.max_steps.has_value());
  EXPECT_EQ(job.train.epochs, 1.0);
  EXPECT_EQ(job.train.grad_clip, 1.0);
  EXPECT_EQ(job.train.seed, 42);
  EXPECT_EQ(job.backend.plugin, "auto");
  EXPECT_EQ(job.backend.threads, 0);
  EXPECT_TRUE(job.engine.plugin_dirs.empty());
  // The default run directory is in the current directory, not next to the job.
  EXPECT_EQ(job.output.dir, fs::current_path() / "runs/valid_minimal");
  EXPECT_FALSE(job.output.save_merged);
}

TEST(Defaults, WarmupRatioScalesWithTheRun) {
  const Job job = load_job(test::source_dir() / "configs/lora.toml");
  ASSERT_TRUE(job.schedule.warmup_ratio.has_value());
  EXPECT_EQ(job.schedule.warmup_for(1000), 30);
  // Neither warmup_steps nor its default is recorded next to warmup_ratio.
  EXPECT_FALSE(job.resolved["schedule"]["warmup_steps"]);
}

TEST(Purpose, OnlyTrainingNeedsTrainingData) {
  const std::string text = "[model]\npath = \"m\"\n[adapter]\nplugin = \"lora\"\n";
  EXPECT_EQ(validate_job_string(text, "x.toml", {}, JobPurpose::inspect), std::vector<Problem>{});
  const Job job = load_job_from_string(text, "x.toml", {}, JobPurpose::inspect);
  EXPECT_TRUE(job.data.train.empty());
  EXPECT_EQ(test::problem_lines(validate_job_string(text, "x.toml")),
            std::vector<std::string>{
                "x.toml:1:1: data.train: required key missing (the file has no [data] section)"});
}

TEST(OpenSections, ThirdPartyPluginKeysPassThrough) {
  const Job job = load_job(test::job_path("third_party.toml"));
  EXPECT_EQ(job.adapter.plugin, "dora");
  EXPECT_EQ(job.adapter.r, 16);  // a known key keeps its meaning
  ASSERT_TRUE(job.adapter.extra["magnitude_lr"].is_floating_point());
  EXPECT_EQ(job.adapter.extra["magnitude_lr"].value<double>(), 1e-4);
  EXPECT_EQ(job.adapter.extra["init"]["kind"].value<std::string>(), "gaussian");
  EXPECT_FALSE(job.adapter.extra.contains("r"));
  EXPECT_EQ(job.optimizer.plugin, "lion");
  EXPECT_EQ(job.optimizer.betas, (std::array<double, 2>{0.95, 0.98}));
  EXPECT_EQ(job.optimizer.extra["update_clip"].value<double>(), 1.0);
  // Relative and absolute paths in a list.
  EXPECT_EQ(job.data.train, (std::vector<fs::path>{test::jobs_dir() / "a.jsonl", "/abs/b.jsonl"}));
  // The resolved job keeps the plugin's keys, and not the built-in plugins' defaults.
  EXPECT_TRUE(job.resolved["adapter"]["magnitude_lr"]);
  EXPECT_TRUE(job.resolved["adapter"]["r"]);
  EXPECT_FALSE(job.resolved["adapter"]["quant_type"]);
  EXPECT_FALSE(job.resolved["adapter"]["freeze"]);
}

TEST(OpenSections, KnownKeysAreStillChecked) {
  const std::string text =
      "[model]\npath = \"m\"\n[adapter]\nplugin = \"dora\"\nr = 0\nanything = \"goes\"\n"
      "[data]\ntrain = \"t.jsonl\"\n";
  EXPECT_EQ(test::problem_lines(validate_job_string(text, "x.toml")),
            std::vector<std::string>{"x.toml:5:5: adapter.r: expected an integer >= 1, found 0"});
}

TEST(OpenSections, ClosedForBuiltInPlugins) {
  const std::string text =
      "[model]\npath = \"m\"\n[adapter]\nplugin = \"lora\"\nmagnitude_lr = 1e-4\n"
      "[data]\ntrain = \"t.jsonl\"\n";
  EXPECT_EQ(test::problem_lines(validate_job_string(text, "x.toml")),
            std::vector<std::string>{
                "x.toml:5:1: adapter.magnitude_lr: unknown key; [adapter] takes plugin, r, alpha, "
                "dropout, target_modules, use_rslora, quant_type, double_quant, block_size and "
                "freeze"});
}

TEST(Numbers, IntegersAreAcceptedWhereNumbersAre) {
  const std::string text =
      "[model]\npath = \"m\"\n[adapter]\nplugin = \"lora\"\nalpha = 32\n[optimizer]\nlr = 1\n"
      "betas = [0, 0.5]\n[data]\ntrain = \"t.jsonl\"\n[train]\nepochs = 3\n";
  const Job job = load_job_from_string(text, "x.toml");
  EXPECT_EQ(job.adapter.alpha, 32.0);
  EXPECT_EQ(job.optimizer.lr, 1.0);
  EXPECT_EQ(job.optimizer.betas, (std::array<double, 2>{0.0, 0.5}));
  EXPECT_EQ(job.train.epochs, 3.0);
}

// What a run writes as job.toml loads back to the same job.
TEST(Resolved, RoundTripsThroughItsOwnText) {
  std::vector<fs::path> files = example_configs();
  files.push_back(test::job_path("third_party.toml"));
  files.push_back(test::job_path("valid_minimal.toml"));
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    const Job job = load_job(file);
    const std::string text = resolved_toml(job);
    // Same origin, so the name and relative defaults agree; every path in it is absolute.
    EXPECT_EQ(test::problem_lines(validate_job_string(text, file)), std::vector<std::string>{})
        << text;
    const Job again = load_job_from_string(text, file);
    EXPECT_EQ(resolved_toml(again), text);
    EXPECT_EQ(again.output.dir, job.output.dir);
    EXPECT_EQ(again.data.train, job.data.train);
  }
}

TEST(Resolved, IsReadableToml) {
  const Job job = load_job(test::source_dir() / "configs/lora.toml");
  const std::string text = resolved_toml(job);
  EXPECT_EQ(text.rfind("[job]\nname = 'lora'\n", 0), 0u) << text;         // schema order
  EXPECT_NE(text.find("\ndropout = 0.05\n"), std::string::npos) << text;  // shortest floats
  EXPECT_NE(text.find("\nbetas = [0.9, 0.999]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nepochs = 3\n"), std::string::npos) << text;       // as written
  EXPECT_NE(text.find("\ngrad_clip = 1.0\n"), std::string::npos) << text;  // a float default
}

TEST(Summary, NamesTheChoices) {
  const Job job = load_job(test::source_dir() / "configs/qlora.toml");
  const std::string summary = job_summary(job);
  EXPECT_NE(summary.find("  adapter    qlora r=16 alpha=16"), std::string::npos) << summary;
  EXPECT_NE(summary.find("nf4"), std::string::npos) << summary;
  EXPECT_NE(summary.find("  optimizer  adamw lr=0.0001"), std::string::npos) << summary;
  EXPECT_NE(summary.find("  backend    auto"), std::string::npos) << summary;
}

}  // namespace
}  // namespace ft::engine
