// ftengine run JOB [--resume [--force]]: fine-tune as the job says.
//
// Reading the job (every problem at once) happens here; the rest is the trainer's
// (engine/train/trainer.hpp).
#include <fmt/format.h>

#include "engine/cli/cli.hpp"
#include "engine/config/job.hpp"
#include "engine/train/trainer.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::cli {

int run_command(const GlobalOptions& global, const RunOptions& options) {
  if (options.force && !options.resume)
    throw Error(
        "--force only applies with --resume (it accepts a changed job when resuming); "
        "to start a run afresh, delete its output directory or set output.dir");
  // A JobError lists every problem, before anything is loaded.
  const engine::Job job = engine::load_job(options.job, global.overrides);
  log::info("job {} ({})", job.name, job.file.string());
  std::string summary = engine::job_summary(job);
  if (!summary.empty()) summary.pop_back();  // the log adds its own newline
  log::debug("resolved job:\n{}", summary);
  return engine::train(job, {.plugin_dirs = global.plugin_dirs,
                             .overrides = global.overrides,
                             .resume = options.resume,
                             .force = options.force});
}

const CommandSpec kRunCommand{
    .name = "run",
    .synopsis = "JOB",
    .summary = "fine-tune as the job file says",
    .details =
        "\nJOB is a TOML job file (docs/job-file.md); --set KEY=VALUE overrides its keys.\n"
        "The run writes into output.dir (default runs/<job.name>): job.toml, metrics.jsonl,\n"
        "checkpoints/step-N/, and at the end adapter/ (or model/ for full fine-tuning).\n"
        "Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and exits with 130 or 143;\n"
        "--resume continues from the newest checkpoint exactly where it stopped.\n",
    .declare =
        [](po::options_description& options, po::options_description& hidden,
           po::positional_options_description& positional) {
          options.add_options()                                                     //
              ("resume", po::bool_switch(), "continue from the newest checkpoint")  //
              ("force", po::bool_switch(),
               "with --resume: continue even though the job changed since the checkpoint");
          hidden.add_options()("job", po::value<std::string>(), "the job file");
          positional.add("job", 1);
        },
    .run =
        [](const GlobalOptions& global, const po::variables_map& args) {
          return run_command(global, RunOptions{.job = required_argument(args, "job", kRunCommand),
                                                .resume = args["resume"].as<bool>(),
                                                .force = args["force"].as<bool>()});
        },
};

}  // namespace ft::cli
