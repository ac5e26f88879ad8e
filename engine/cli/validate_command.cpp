// ftengine validate JOB: every problem with the job, or a summary of what it will run.
#include <fmt/format.h>

#include "engine/cli/cli.hpp"
#include "engine/config/job.hpp"

namespace ft::cli {

int validate_command(const GlobalOptions& global, const ValidateOptions& options) {
  const std::string file = options.job.string();
  try {
    const engine::Job job = engine::load_job(options.job, global.overrides);
    fmt::print("{}: ok\n{}", file, engine::job_summary(job));
    if (options.show) fmt::print("\n{}", engine::resolved_toml(job));
    return kExitOk;
  } catch (const engine::JobError& e) {
    // The problems are this command's output, so stdout; the exit code says they exist.
    for (const engine::Problem& p : e.problems()) fmt::print("{}\n", p.to_string());
    const std::size_t n = e.problems().size();
    fmt::print("{} problem{} in {}\n", n, n == 1 ? "" : "s", file);
    return kExitBadInput;
  }
}

}  // namespace ft::cli
