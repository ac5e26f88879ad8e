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

const CommandSpec kValidateCommand{
    .name = "validate",
    .synopsis = "JOB",
    .summary = "check a job file: every problem with its line, or what it will run",
    .details =
        "Prints each problem as FILE:LINE:COL: KEY: what was expected, what was found;\n"
        "exits 0 when the job is valid, 2 when it is not.\n"
        "\nJOB is a TOML job file (docs/job-file.md); --set KEY=VALUE overrides its keys.\n",
    .declare =
        [](po::options_description& options, po::options_description& hidden,
           po::positional_options_description& positional) {
          options.add_options()("show", po::bool_switch(), "also print the resolved job as TOML");
          hidden.add_options()("job", po::value<std::string>(), "the job file");
          positional.add("job", 1);
        },
    .run =
        [](const GlobalOptions& global, const po::variables_map& args) {
          return validate_command(
              global, ValidateOptions{required_argument(args, "job", kValidateCommand),
                                      args["show"].as<bool>()});
        },
};

}  // namespace ft::cli
