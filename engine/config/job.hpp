// Job files: a TOML file that says what to fine-tune, how, and where (docs/job-file.md).
//
//   ft::engine::Job job = ft::engine::load_job("job.toml", {"train.max_steps=10"});
//   job.adapter.r, job.optimizer.lr, job.data.train[0] ...
//
// load_job parses the file, applies `--set KEY=VALUE` overrides, checks everything against
// the schema (schema.hpp), fills in defaults and resolves paths, and returns the typed Job;
// on any problem it throws JobError, which carries every problem found, not just the first.
// validate_job returns those problems instead of throwing. Each problem names where it is
// (`FILE:LINE:COL` or the `--set` argument), the key, what was expected and what was found.
//
// Paths: relative paths written in the job file are taken from the job file's directory;
// relative paths given with --set from the current directory (where the user typed them);
// the default output.dir, `runs/<job.name>`, from the current directory. Job holds them
// absolute.
#pragma once

#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"

namespace ft::engine {

// One thing wrong with a job.
struct Problem {
  std::string origin;  // the job file as given, or the `--set KEY=VALUE` argument
  int line = 0;        // 1-based; 0 when there is no position (a --set, a missing file)
  int column = 0;
  std::string key;  // "train.batch_size", "optimizer.betas[1]"; empty for TOML syntax errors
  std::string message;

  // "bad.toml:4:14: train.batch_size: expected an integer >= 1, found 0"
  std::string to_string() const;
  friend bool operator==(const Problem&, const Problem&) = default;
};

// Thrown by load_job. what() is one line: the first problem and how many more there are.
class JobError : public Error {
 public:
  explicit JobError(std::vector<Problem> problems);
  ~JobError() override;
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

// What the job is loaded for: commands that do not train (later: generate, export) do not
// need [data] train.
enum class JobPurpose { train, inspect };

enum class ScheduleKind { constant, linear, cosine };
enum class DataFormat { auto_detect, text, alpaca, chat, completion };
enum class OverflowPolicy { truncate, drop, split, error };
enum class QuantType { nf4, fp4 };

struct ModelConfig {
  std::string plugin;
  std::filesystem::path path;
  DType dtype = DType::f32;
};

struct AdapterConfig {
  std::string plugin;
  // LoRA and QLoRA.
  std::int64_t r = 0;
  double alpha = 0;
  double dropout = 0;
  std::vector<std::string> target_modules;
  bool use_rslora = false;
  // QLoRA.
  QuantType quant_type = QuantType::nf4;
  bool double_quant = false;
  std::int64_t block_size = 0;
  // Full fine-tuning.
  std::vector<std::string> freeze;
  // Keys the schema does not know, for a third-party adapter plugin (empty otherwise).
  toml::table extra;
};

struct OptimizerConfig {
  std::string plugin;
  double lr = 0;
  std::array<double, 2> betas{};
  double eps = 0;
  double weight_decay = 0;
  bool decay_norms_and_biases = false;
  double momentum = 0;
  bool nesterov = false;
  // Keys the schema does not know, for a third-party optimizer plugin (empty otherwise).
  toml::table extra;
};

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::cosine;
  std::int64_t warmup_steps = 0;
  std::optional<double> warmup_ratio;  // when set, warmup_steps was not
  double min_lr_ratio = 0;

  // Warmup length for a run of total_steps optimizer steps.
  std::int64_t warmup_for(std::int64_t total_steps) const;
};

struct DataConfig {
  std::vector<std::filesystem::path> train;  // empty only for JobPurpose::inspect
  std::vector<double> weights;               // one per train file, or empty: all 1
  std::optional<std::filesystem::path> eval;
  double val_split = 0;
  std::int64_t seq_len = 0;
  DataFormat format = DataFormat::auto_detect;
  std::map<std::string, std::string> fields;  // canonical name -> the files' name
  std::string chat_template = "auto";         // a built-in name, "custom" or "auto"
  std::map<std::string, std::string> custom_template;
  bool train_on_inputs = false;
  bool group_by_length = false;
  std::optional<bool> packing;                // unset: true but for text (engine/data/dataset.hpp)
  std::optional<OverflowPolicy> on_overflow;  // unset: split for text, truncate otherwise
  bool skip_bad_records = false;
};

struct TrainConfig {
  std::int64_t batch_size = 0;
  std::int64_t grad_accum = 0;
  std::optional<std::int64_t> max_steps;  // wins over epochs when set
  double epochs = 0;
  double grad_clip = 0;
  std::int64_t seed = 0;
  std::int64_t eval_every = 0;
  std::int64_t save_every = 0;
  std::int64_t keep_checkpoints = 0;
  bool checkpointing = false;
  // "auto", "f32" or "bf16" as the job says; the run resolves it on its backend
  // (engine/train/precision.hpp) and records the result in `resolved`.
  std::string precision = "auto";
};

struct BackendConfig {
  std::string plugin;  // "auto" or a backend plugin name
  int threads = 0;
};

struct EngineConfig {
  std::vector<std::filesystem::path> plugin_dirs;
};

struct OutputConfig {
  std::filesystem::path dir;
  bool save_merged = false;
  bool gguf = false;
};

struct Job {
  std::filesystem::path file;  // the job file, absolute
  std::string name;
  ModelConfig model;
  AdapterConfig adapter;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  DataConfig data;
  TrainConfig train;
  BackendConfig backend;
  EngineConfig engine;
  OutputConfig output;
  // The job as it will run: overrides applied, defaults filled in, paths absolute. Written
  // to the run directory as job.toml, so a run can be repeated from its own record.
  toml::table resolved;
};

// Every problem with the job, in file order then --set order; empty when it is valid.
std::vector<Problem> validate_job(const std::filesystem::path& file,
                                  const std::vector<std::string>& overrides = {},
                                  JobPurpose purpose = JobPurpose::train);

// The valid job, or JobError listing every problem.
Job load_job(const std::filesystem::path& file, const std::vector<std::string>& overrides = {},
             JobPurpose purpose = JobPurpose::train);

// The same, from TOML text rather than a file (tests, tools). `origin` names the text in
// problems and stands for the job file: its directory resolves relative paths and its stem
// names the job.
Job load_job_from_string(std::string_view toml_text, const std::filesystem::path& origin,
                         const std::vector<std::string>& overrides = {},
                         JobPurpose purpose = JobPurpose::train);
std::vector<Problem> validate_job_string(std::string_view toml_text,
                                         const std::filesystem::path& origin,
                                         const std::vector<std::string>& overrides = {},
                                         JobPurpose purpose = JobPurpose::train);

// What the job will run, a few indented lines ("  adapter    lora  r=8 alpha=16 ..."), for
// `ftengine validate` and the start of a run.
std::string job_summary(const Job& job);

// Job::resolved as TOML text, sections and keys in schema order (a third-party plugin's
// own keys after the known ones), numbers as short as round-trips: what a run writes to
// runs/<name>/job.toml, and what `ftengine validate --show` prints.
std::string resolved_toml(const Job& job);

// Canonical names for messages and summaries.
std::string_view to_string(ScheduleKind kind);
std::string_view to_string(DataFormat format);
std::string_view to_string(OverflowPolicy policy);
std::string_view to_string(QuantType type);

}  // namespace ft::engine
