// ftengine init-data --preset NAME --out DIR: a dataset the project generates itself.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/cli/cli.hpp"
#include "engine/data/synthetic.hpp"

namespace ft::cli {

namespace {

int init_data_command(const GlobalOptions&, const po::variables_map& args);

}  // namespace

const CommandSpec kInitDataCommand{
    .name = "init-data",
    .synopsis = "--preset NAME --out DIR",
    .summary = "write a generated dataset (train.jsonl, val.jsonl) for the quickstart",
    .details =
        "Writes train.jsonl and val.jsonl, one {\"text\": ...} object per line. \"quickstart\":\n"
        "2000 train and 200 validation lines of short English sentences from a small grammar,\n"
        "which a tiny model learns in a minute. The same --seed gives the same files. An\n"
        "existing non-empty --out directory is refused.\n",
    .declare =
        [](po::options_description& options, po::options_description&,
           po::positional_options_description&) {
          options.add_options()                                         //
              ("preset", po::value<std::string>(), "quickstart")        //
              ("out", po::value<std::string>(), "directory to create")  //
              ("seed", po::value<std::uint64_t>()->default_value(0), "generation seed");
        },
    .run = init_data_command,
};

namespace {

int init_data_command(const GlobalOptions&, const po::variables_map& args) {
  const std::string preset = required_argument(args, "preset", kInitDataCommand);
  const std::string out = required_argument(args, "out", kInitDataCommand);
  const std::uint64_t seed = args["seed"].as<std::uint64_t>();
  const engine::WrittenDataset data = engine::write_synthetic_dataset(preset, out, seed);
  fmt::print("{}: {} dataset, {} train and {} validation lines, seed {}\n", data.dir.string(),
             preset, data.train_lines, data.val_lines, seed);
  for (const auto& file : data.files) fmt::print("  {}\n", file.filename().string());
  return kExitOk;
}

}  // namespace

}  // namespace ft::cli
