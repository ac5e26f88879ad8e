// ftengine data JOB [--show N]: the job's data as the trainer will see it, without
// training: what was read, kept and dropped (and why), token lengths, the share of tokens
// that train, packing efficiency, and the first N examples with their trained tokens marked.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "engine/cli/cli.hpp"
#include "engine/config/job.hpp"
#include "engine/data/dataset.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/error.hpp"

namespace ft::cli {

namespace {

int data_command(const GlobalOptions& global, const po::variables_map& args);

}  // namespace

const CommandSpec kDataCommand{
    .name = "data",
    .synopsis = "JOB [--show N]",
    .summary = "report on a job's data without training",
    .details =
        "\nReads the job's [data] with the model's tokenizer exactly as `ftengine run` does and\n"
        "prints: the format and chat template (and why), records read, kept and dropped by\n"
        "reason, tokens per example (min, median, p95, max), the share of tokens that carry\n"
        "loss, and packing efficiency. --show N prints the first N examples as rendered, the\n"
        "trained tokens in green on a terminal, in [[double brackets]] otherwise.\n",
    .declare =
        [](po::options_description& options, po::options_description& hidden,
           po::positional_options_description& positional) {
          options.add_options()  //
              ("show", po::value<std::int64_t>()->default_value(0),
               "print the first N examples with their trained tokens marked");
          hidden.add_options()("job", po::value<std::string>(), "the job file");
          positional.add("job", 1);
        },
    .run = data_command,
};

namespace {

int data_command(const GlobalOptions& global, const po::variables_map& args) {
  const engine::Job job =
      engine::load_job(required_argument(args, "job", kDataCommand), global.overrides);
  const std::int64_t show = args["show"].as<std::int64_t>();
  if (show < 0) throw Error(fmt::format("--show must be >= 0, found {}", show));
  const engine::Tokenizer tokenizer = engine::Tokenizer::from_directory(job.model.path);
  const engine::PreparedData data = engine::prepare_data(job, tokenizer, {.show = show});

  fmt::print("{}", engine::format_report(data.report));
  if (data.eval)
    fmt::print("eval: {}: {} sequences, {} trained tokens\n", data.eval_source,
               data.eval->rows.size(), data.eval->target_tokens);
  const bool colour = ::isatty(STDOUT_FILENO) != 0;
  for (const engine::TokenizedExample& e : data.shown)
    fmt::print("\n{}", engine::show_example(e, tokenizer, colour));
  return kExitOk;
}

}  // namespace

}  // namespace ft::cli
