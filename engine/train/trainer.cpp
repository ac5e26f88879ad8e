#include "engine/train/trainer.hpp"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <optional>

#include "engine/train/checkpoint.hpp"
#include "engine/train/data_parallel.hpp"
#include "engine/train/evaluation.hpp"
#include "engine/train/export.hpp"
#include "engine/train/job_fingerprint.hpp"
#include "engine/train/metrics.hpp"
#include "engine/train/precision.hpp"
#include "engine/train/progress.hpp"
#include "engine/train/resume.hpp"
#include "engine/train/row_sampler.hpp"
#include "engine/train/schedule.hpp"
#include "engine/train/setup.hpp"
#include "engine/train/stop_signals.hpp"
#include "engine/train/train_step.hpp"
#include "engine/train/training_data.hpp"
#include "ftengine/error.hpp"
#include "ftengine/io/safetensors.hpp"
#include "ftengine/log.hpp"
#include "ftengine/ops.hpp"

namespace ft::engine {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string resume_command(const Job& job, const std::vector<std::string>& overrides) {
  std::string command = fmt::format("ftengine run {}", job.file.string());
  for (const std::string& o : overrides) command += fmt::format(" --set {}", o);
  return command + " --resume";
}

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return lines;
}

void check_context(const Job& job, const Model& model) {
  const std::int64_t context = model.info().max_position_embeddings;
  if (context > 0 && job.data.seq_len > context)
    throw Error(
        fmt::format("data.seq_len = {} is longer than the model's context of {} "
                    "(max_position_embeddings in {}/config.json)",
                    job.data.seq_len, context, job.model.path.string()));
}

// data.group_by_length: the rows' lengths, in groups of 50 micro-batches (transformers'
// megabatches).
LengthGroups length_groups(const Job& job, const std::vector<TokenRow>& rows) {
  if (!job.data.group_by_length) return {};
  LengthGroups groups{{}, 50 * job.train.batch_size};
  for (const TokenRow& row : rows) groups.lengths.push_back(filled_length(row));
  return groups;
}

class Trainer {
 public:
  Trainer(const Job& job, const TrainOptions& options, TrainingSetup& setup,
          const TrainingData& data, TrainerState state)
      : job_(job),
        options_(options),
        s_(setup),
        data_(data),
        state_(std::move(state)),
        first_step_(state_.step),
        last_saved_(options.resume ? state_.step : -1),
        sampler_(static_cast<std::int64_t>(data.train.rows.size()),
                 static_cast<std::uint64_t>(job.train.seed), state_.cursor,
                 length_groups(job, data.train.rows)),
        progress_(state_.total_steps, state_.step),
        job_toml_(resolved_toml(job)),
        elapsed_before_(state_.elapsed_s) {
    if (writes_outputs())
      metrics_.emplace(job.output.dir / "metrics.jsonl",
                       options.resume ? std::optional(state_.step) : std::nullopt);
  }

  int run();

 private:
  void evaluate(std::int64_t step);
  void save();
  int stop(int signal);
  [[noreturn]] void diverged(const TrainingDiverged& e);
  // Seconds of the run so far, over every session.
  double elapsed() const {
    return elapsed_before_ + std::chrono::duration<double>(Clock::now() - session_start_).count();
  }

  const Job& job_;
  const TrainOptions& options_;
  TrainingSetup& s_;
  const TrainingData& data_;
  TrainerState state_;
  const std::int64_t first_step_;
  std::int64_t last_saved_;
  RowSampler sampler_;
  Progress progress_;
  StopSignals signals_;
  std::optional<MetricsLog> metrics_;
  const std::string job_toml_;
  const double elapsed_before_;  // by earlier sessions of a resumed run
  const Clock::time_point session_start_ = Clock::now();
};

int Trainer::run() {
  const std::int64_t total = state_.total_steps;
  const std::int64_t rows_per_step = job_.train.batch_size * job_.train.grad_accum;
  if (data_.eval && job_.train.eval_every > 0 && state_.step == 0) evaluate(0);

  while (state_.step < total) {
    const auto start = Clock::now();
    const std::int64_t step = state_.step + 1;
    const double lr = learning_rate(job_.schedule, job_.optimizer.lr, state_.step, total);
    StepOutcome out;
    try {
      out = train_step(s_, job_, data_.train.rows, sampler_.take(rows_per_step), step, lr,
                       state_.micro_batch);
    } catch (const TrainingDiverged& e) {
      diverged(e);
    }
    state_.step = step;
    state_.cursor = sampler_.cursor();
    state_.tokens += out.tokens;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double tokens_per_second = seconds > 0 ? static_cast<double>(out.tokens) / seconds : 0.0;
    if (metrics_)
      metrics_->write_step(
          {step, out.loss, lr, out.grad_norm, out.tokens, tokens_per_second, elapsed()});
    progress_.step({step, out.loss, lr, out.grad_norm, tokens_per_second, elapsed()}, *s_.backend);

    if (step < total) {  // the last step is evaluated and saved below
      if (data_.eval && job_.train.eval_every > 0 && step % job_.train.eval_every == 0)
        evaluate(step);
      if (job_.train.save_every > 0 && step % job_.train.save_every == 0) save();
    }
    signals_.raise_if_test_asks(step);
    if (const int signal = signals_.pending(); signal != 0 && step < total) return stop(signal);
  }

  if (state_.step > first_step_) {
    if (data_.eval) evaluate(state_.step);
    save();
  } else {
    progress_.note(fmt::format("the run already finished (step {} of {}); exporting it again",
                               state_.step, total));
  }
  progress_.finish();
  if (!writes_outputs()) return 0;
  const ExportedRun exported = export_run(job_, *s_.adapter, *s_.model, s_.tokenizer);
  log::info("done: {} steps, {} tokens in {}; wrote {}{}{}", total, state_.tokens,
            format_duration(elapsed()), exported.result.string(),
            exported.merged ? fmt::format(" and {}", exported.merged->string()) : "",
            exported.gguf ? fmt::format(" and {}", exported.gguf->string()) : "");
  return 0;
}

void Trainer::evaluate(std::int64_t step) {
  const auto start = Clock::now();
  const EvalFigures e = evaluate_rows(*s_.model, *s_.adapter, *data_.eval, job_.train.batch_size);
  if (metrics_) metrics_->write_eval(step, e);
  progress_.note(fmt::format(
      "eval at step {}: loss {:.4f}, perplexity {:.3f} ({} tokens, {:.1f} s)", step, e.loss,
      e.perplexity, e.tokens, std::chrono::duration<double>(Clock::now() - start).count()));
}

void Trainer::save() {
  if (!writes_outputs() || last_saved_ == state_.step) return;
  state_.elapsed_s = elapsed();
  write_checkpoint(job_.output.dir, state_, s_.trainable, s_.optimizer->state(), job_toml_);
  prune_checkpoints(job_.output.dir, job_.train.keep_checkpoints);
  last_saved_ = state_.step;
  log::debug("checkpoint step-{} written", state_.step);
}

int Trainer::stop(int signal) {
  save();
  progress_.finish();
  // A warning, so that --quiet still says how to continue.
  log::warn("{} at step {} of {}: saved {}; continue with: {}",
            signal == SIGTERM ? "terminated (SIGTERM)" : "interrupted (SIGINT)", state_.step,
            state_.total_steps,
            (checkpoints_dir(job_.output.dir) / fmt::format("step-{}", state_.step)).string(),
            resume_command(job_, options_.overrides));
  return 128 + signal;
}

void Trainer::diverged(const TrainingDiverged& e) {
  progress_.finish();
  const std::vector<Checkpoint> saved = list_checkpoints(job_.output.dir);
  const std::string advice =
      saved.empty()
          ? fmt::format(
                "no checkpoint was written yet: lower optimizer.lr (now {}) or check the "
                "data, and start again",
                job_.optimizer.lr)
          : fmt::format(
                "the last checkpoint, {}, is intact: lower optimizer.lr (now {}) or check "
                "the data, and continue from it with `{} --force`",
                saved.back().dir.string(), job_.optimizer.lr,
                resume_command(job_, options_.overrides));
  throw Error(fmt::format("training diverged: {}. Stopped before updating the weights; {}",
                          e.what(), advice));
}

// Where the run starts: step 0, or the newest checkpoint (whose tensors this loads).
TrainerState starting_state(const Job& job, const TrainOptions& options, TrainingSetup& setup,
                            std::int64_t train_rows) {
  TrainerState state;
  state.total_steps = total_steps(job.train, train_rows);
  state.seed = static_cast<std::uint64_t>(job.train.seed);
  state.train_rows = train_rows;
  state.job_hash = job_hash(job.resolved);
  if (!options.resume) return state;

  const ResumePoint from = find_resume_point(job, train_rows, options.force);
  restore_checkpoint(from, setup);
  // min and the cursor check matter only with --force: a shorter run, or fewer rows.
  state.step = std::min(from.state.step, state.total_steps);
  state.cursor = from.state.cursor.index < train_rows ? from.state.cursor
                                                      : DataCursor{from.state.cursor.epoch + 1, 0};
  state.micro_batch = from.state.micro_batch;
  state.tokens = from.state.tokens;
  state.elapsed_s = from.state.elapsed_s;
  log::info("resuming from {} (step {} of {})", from.checkpoint.dir.string(), from.state.step,
            state.total_steps);
  return state;
}

void log_plan(const Job& job, const TrainingData& data, std::int64_t total_steps) {
  for (const std::string& line : lines_of(format_report(data.report))) log::info("data: {}", line);
  // Fewer than ~100 examples rarely teach a model much: say so before the time is spent.
  if (data.report.format != DataFormat::text && data.report.counts.kept < 100)
    log::warn(
        "only {} training example(s): fine-tuning on fewer than about 100 rarely improves a "
        "model; a few-shot prompt may serve better",
        data.report.counts.kept);
  const auto rows = static_cast<std::int64_t>(data.train.rows.size());
  const std::int64_t rows_per_step = job.train.batch_size * job.train.grad_accum;
  log::info("{} tokens in {} rows of {}; {} steps of {} rows ({:.2f} epochs)", data.train.tokens,
            rows, job.data.seq_len, total_steps, rows_per_step,
            static_cast<double>(total_steps * rows_per_step) / static_cast<double>(rows));
  if (data.eval)
    log::info("eval: {} ({} rows, {} target tokens)", data.eval_source, data.eval->rows.size(),
              data.eval->target_tokens);
  else
    log::info("eval: none (set data.eval or data.val_split to measure an eval loss)");
}

}  // namespace

int train(const Job& requested_job, const TrainOptions& options) {
  Plugins plugins = load_plugins(requested_job, options.plugin_dirs);
  const ResolvedPrecision precision =
      resolve_precision(requested_job.train.precision, *plugins.backend);
  if (precision.fell_back)
    log::warn("{}", precision.line);
  else
    log::info("{}", precision.line);
  // From here on the job is the one that runs: what job.toml, checkpoints and resume see.
  const Job job = with_precision(requested_job, precision.gemm);
  const ops::GemmPrecision gemm_precision(precision.gemm);
  if (!options.resume && writes_outputs())
    refuse_to_overwrite(job, resume_command(job, options.overrides));
  TrainingSetup setup = set_up_training(job, std::move(plugins));
  check_context(job, *setup.model);
  const TrainingData data = load_training_data(job, setup.tokenizer);
  const TrainerState state =
      starting_state(job, options, setup, static_cast<std::int64_t>(data.train.rows.size()));
  log_plan(job, data, state.total_steps);

  if (writes_outputs()) {
    fs::create_directories(job.output.dir);
    io::write_file_atomic(job.output.dir / "job.toml", resolved_toml(job));
  }
  Trainer trainer(job, options, setup, data, state);
  return trainer.run();
}

}  // namespace ft::engine
