// ftengine run JOB: fine-tune as the job says.
//
// The steps of DESIGN.md §6, in order. Today it stops after choosing the backend: the
// trainer (model, adapter, optimizer, data, loop, export) lands with issue #4, as one call
// in place of the "not implemented" below.
#include <fmt/format.h>

#include "engine/cli/cli.hpp"
#include "engine/config/job.hpp"
#include "engine/plugins/registry.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::cli {

namespace {

std::string describe_device(const DeviceInfo& info) {
  std::string text = info.device_name.empty() ? std::string("unnamed device") : info.device_name;
  if (info.device_count > 1) text += fmt::format(" x{}", info.device_count);
  if (info.memory_bytes > 0)
    text += fmt::format(", {:.1f} GiB", static_cast<double>(info.memory_bytes) / (1u << 30));
  return text;
}

}  // namespace

int run_command(const GlobalOptions& global, const RunOptions& options) {
  // 1. The job: every problem at once (a JobError), before anything is loaded.
  const engine::Job job = engine::load_job(options.job, global.overrides);
  log::info("job {} ({})", job.name, job.file.string());
  std::string summary = engine::job_summary(job);
  if (!summary.empty()) summary.pop_back();  // the log adds its own newline
  log::debug("resolved job:\n{}", summary);

  // 2. Plugins, then the backend.
  engine::PluginRegistry registry;
  // (scan() logs each skipped file at debug level itself.)
  registry.scan(engine::plugin_search_path(global.plugin_dirs, job.engine.plugin_dirs));

  // select_backend probes and logs its choice (and, for "auto", why others were passed over).
  std::unique_ptr<Backend> backend = registry.select_backend(job.backend.plugin);
  backend->set_threads(job.backend.threads);
  const DeviceInfo device = backend->probe();
  log::debug("backend: {} ready: {}", backend->name(), describe_device(device));

  // 3.-6. Model, adapter, data, training loop, export: the trainer.
  throw InternalError(fmt::format(
      "training is not implemented yet in this build ({}): the trainer lands with issue #4",
      version()));
}

const CommandSpec kRunCommand{
    .name = "run",
    .synopsis = "JOB",
    .summary = "fine-tune as the job file says",
    .details = "\nJOB is a TOML job file (docs/job-file.md); --set KEY=VALUE overrides its keys.\n",
    .declare =
        [](po::options_description&, po::options_description& hidden,
           po::positional_options_description& positional) {
          hidden.add_options()("job", po::value<std::string>(), "the job file");
          positional.add("job", 1);
        },
    .run =
        [](const GlobalOptions& global, const po::variables_map& args) {
          return run_command(global, RunOptions{required_argument(args, "job", kRunCommand)});
        },
};

}  // namespace ft::cli
