// ftengine: the command line. Parses options, runs one command, maps failures to exit codes.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/program_options.hpp>
#include <cctype>
#include <cstdio>
#include <exception>
#include <iostream>
#include <malloc.h>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cli/cli.hpp"
#include "engine/config/job.hpp"
#include "engine/config/suggest.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"
#include "ftengine/plugin.hpp"

namespace ft::cli {

std::string_view version() {
  static const std::string text = fmt::format("ftengine {}", FTENGINE_VERSION);
  return text;
}

void print_error(std::string_view message) {
  const std::string line = fmt::format("ftengine: error: {}\n", message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string required_argument(const po::variables_map& args, const char* name,
                              const CommandSpec& command) {
  if (!args.count(name) || args[name].as<std::string>().empty())
    throw Error(fmt::format("\"{}\" needs {}: ftengine {} {} (see ftengine {} --help)", command.name,
                            command.synopsis, command.name, command.synopsis, command.name));
  return args[name].as<std::string>();
}

namespace {

// A user mistake on the command line: one line, then exit 2.
class UsageError : public Error {
 public:
  UsageError(const std::string& message, std::string help_hint)
      : Error(message), help_hint_(std::move(help_hint)) {}
  const std::string& help_hint() const { return help_hint_; }

 private:
  std::string help_hint_;
};

// Every command, in the order `ftengine --help` lists them.
const CommandSpec* const kCommands[] = {
    &kRunCommand,   &kValidateCommand,  &kDataCommand,     &kGenerateCommand, &kEvalCommand,
    &kMergeCommand, &kExportGgufCommand, &kInitModelCommand, &kInitDataCommand, &kPluginsCommand};

const CommandSpec* find_command(std::string_view name) {
  for (const CommandSpec* c : kCommands)
    if (c->name == name) return c;
  return nullptr;
}

// Global options take a value as the next word; the command is the first word that is
// neither an option nor such a value.
bool takes_value(std::string_view option) { return option == "--set" || option == "--plugin-dir"; }

std::optional<std::size_t> find_command_word(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return i + 1 < args.size() ? std::optional<std::size_t>(i + 1) : std::nullopt;
    if (a.size() > 1 && a[0] == '-') {
      if (takes_value(a)) ++i;
      continue;
    }
    return i;
  }
  return std::nullopt;
}

constexpr unsigned kHelpWidth = 100;

po::options_description global_options(bool& verbose, bool& quiet, GlobalOptions& global) {
  po::options_description desc("Options (before or after the command)", kHelpWidth, kHelpWidth / 2);
  desc.add_options()                                                            //
      ("help,h", "show this help (or the command's: ftengine COMMAND --help)")  //
      ("version", "print the version")                                          //
      ("plugin-dir", po::value<std::vector<std::string>>()->composing()->value_name("DIR"),
       "look for plugins in DIR first (repeatable)")  //
      ("set",
       po::value<std::vector<std::string>>(&global.overrides)->composing()->value_name("KEY=VALUE"),
       "override a job key: --set train.max_steps=10 (repeatable)")          //
      ("verbose,v", po::bool_switch(&verbose), "also print debug messages")  //
      ("quiet,q", po::bool_switch(&quiet), "print only warnings and errors");
  return desc;
}

std::string global_help(const po::options_description& desc) {
  std::string out = fmt::format(
      "{} - fine-tune Llama-family models: LoRA, QLoRA or full fine-tuning\n\n"
      "Usage: ftengine [OPTIONS] COMMAND [ARGS]\n\nCommands:\n",
      version());
  for (const CommandSpec* c : kCommands)
    out += fmt::format("  {:<12} {}\n", c->name, c->summary);
  std::ostringstream options;
  options << desc;
  out += "\n" + options.str();
  out +=
      "\nRun `ftengine COMMAND --help` for a command's own options. Job files: "
      "docs/job-file.md.\n"
      "Exit codes: 0 success, 2 bad input (the message says what and where), 1 internal "
      "error.\n";
  return out;
}

std::string command_help(const CommandSpec& command, const po::options_description& own,
                         const po::options_description& global) {
  std::string summary(command.summary);
  summary[0] = static_cast<char>(std::toupper(summary[0]));
  std::string out = fmt::format("Usage: ftengine {} [OPTIONS]{}{}\n\n{}.\n", command.name,
                                command.synopsis.empty() ? "" : " ", command.synopsis, summary);
  std::ostringstream options;
  if (!own.options().empty()) options << "\n" << own;
  options << "\n" << global;
  out += options.str();
  if (!command.details.empty()) out += fmt::format("\n{}", command.details);
  return out;
}

int dispatch(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::optional<std::size_t> command_index = find_command_word(args);

  bool verbose = false, quiet = false;
  GlobalOptions global;
  po::options_description global_desc = global_options(verbose, quiet, global);

  const CommandSpec* command = nullptr;
  std::vector<std::string> rest = args;
  if (command_index) {
    const std::string& word = args[*command_index];
    command = find_command(word);
    if (!command) {
      std::vector<std::string_view> names;
      for (const CommandSpec* c : kCommands) names.push_back(c->name);
      std::string hint;
      if (auto s = engine::suggest(word, names)) hint = fmt::format("; did you mean \"{}\"?", *s);
      throw UsageError(fmt::format("unknown command \"{}\"{}", word, hint), "ftengine --help");
    }
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(*command_index));
  }
  const std::string help_hint =
      command ? fmt::format("ftengine {} --help", command->name) : std::string("ftengine --help");

  // The command's own options and positional arguments.
  po::options_description own("Command options", kHelpWidth, kHelpWidth / 2);
  po::options_description hidden;
  po::positional_options_description positional;
  if (command) command->declare(own, hidden, positional);

  po::options_description all;
  all.add(global_desc).add(own).add(hidden);
  po::variables_map vm;
  try {
    po::store(
        po::command_line_parser(rest)
            .options(all)
            .positional(positional)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run(),
        vm);
    po::notify(vm);
  } catch (const po::too_many_positional_options_error&) {
    throw UsageError(command ? fmt::format("too many arguments for \"{}\"", command->name)
                             : std::string("too many arguments"),
                     help_hint);
  } catch (const po::error& e) {
    throw UsageError(e.what(), help_hint);
  }

  if (vm.count("version")) {
    fmt::print("{} (plugin ABI {}.{})\n", version(), kAbiMajor, kAbiMinor);
    return kExitOk;
  }
  if (vm.count("help")) {
    fmt::print("{}", command ? command_help(*command, own, global_desc) : global_help(global_desc));
    return kExitOk;
  }
  if (!command) {
    std::vector<std::string_view> names;
    for (const CommandSpec* c : kCommands) names.push_back(c->name);
    throw UsageError(fmt::format("expected a command: {}", fmt::join(names, ", ")),
                     "ftengine --help");
  }

  if (verbose && quiet) throw UsageError("--verbose and --quiet contradict each other", help_hint);
  if (verbose) log::set_level(log::Level::debug);
  if (quiet) log::set_level(log::Level::warn);
  if (vm.count("plugin-dir"))
    for (const std::string& dir : vm["plugin-dir"].as<std::vector<std::string>>())
      global.plugin_dirs.emplace_back(dir);
  return command->run(global, vm);
}

}  // namespace

}  // namespace ft::cli

int main(int argc, char** argv) {
  using namespace ft::cli;
  // Blocks of 128 KiB and more come from mmap and go back to the system when freed. glibc
  // otherwise raises this threshold each time such a block is freed, after which oneDNN's
  // packing buffers and the GEMM tiles land in the heap between long-lived small tensors,
  // and a QLoRA step's resident memory grows by about 15% for heap holes nothing refills.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  try {
    return dispatch(argc, argv);
  } catch (const UsageError& e) {
    print_error(fmt::format("{} (see {})", e.what(), e.help_hint()));
    return kExitBadInput;
  } catch (const ft::engine::JobError& e) {
    for (const ft::engine::Problem& p : e.problems()) print_error(p.to_string());
    return kExitBadInput;
  } catch (const ft::InternalError& e) {
    print_error(e.what());
    return kExitInternal;
  } catch (const ft::Error& e) {
    print_error(e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    print_error(fmt::format("internal error: {}", e.what()));
    return kExitInternal;
  } catch (...) {
    print_error("internal error: an unknown exception");
    return kExitInternal;
  }
}
