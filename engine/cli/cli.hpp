// The `ftengine` command line: one function per command, and what they share.
//
// main.cpp parses the global options (accepted before or after the command) and the
// command's own, sets the log level, runs the command, and turns exceptions into one line
// on stderr and an exit code: 0 success, 2 bad input (ft::Error), 1 internal error.
#pragma once

#include <boost/program_options.hpp>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ft::cli {

namespace po = boost::program_options;

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitBadInput = 2;

// Options every command accepts.
struct GlobalOptions {
  std::vector<std::filesystem::path> plugin_dirs;  // --plugin-dir, in order
  std::vector<std::string> overrides;              // --set KEY=VALUE, in order
};

struct ValidateOptions {
  std::filesystem::path job;
  bool show = false;  // --show: print the resolved job as TOML
};

struct PluginsOptions {
  bool json = false;
};

struct RunOptions {
  std::filesystem::path job;
  bool resume = false;  // --resume: continue from the newest checkpoint
  bool force = false;   // --force: resume even though the job changed
};

int validate_command(const GlobalOptions& global, const ValidateOptions& options);
int plugins_command(const GlobalOptions& global, const PluginsOptions& options);
int run_command(const GlobalOptions& global, const RunOptions& options);

// One command of the CLI: its help text, its own options, and how it runs. Each command's
// file defines its spec; main.cpp lists them.
struct CommandSpec {
  std::string_view name;
  std::string_view synopsis;  // after "ftengine NAME", e.g. "JOB"
  std::string_view summary;   // one line, for `ftengine --help`
  std::string_view details;   // more help text for `ftengine NAME --help` (may be empty)
  // Declares the command's options (shown in its help) and its positional arguments
  // (declared in `hidden` and named in `positional`).
  void (*declare)(po::options_description& options, po::options_description& hidden,
                  po::positional_options_description& positional);
  int (*run)(const GlobalOptions& global, const po::variables_map& args);
};

extern const CommandSpec kRunCommand;
extern const CommandSpec kValidateCommand;
extern const CommandSpec kPluginsCommand;
extern const CommandSpec kGenerateCommand;
extern const CommandSpec kEvalCommand;
extern const CommandSpec kInitModelCommand;
extern const CommandSpec kInitDataCommand;
extern const CommandSpec kMergeCommand;
extern const CommandSpec kExportGgufCommand;
extern const CommandSpec kDataCommand;

// The value of a required argument, or an ft::Error saying how to give it.
std::string required_argument(const po::variables_map& args, const char* name,
                              const CommandSpec& command);

// "ftengine 0.1.0"
std::string_view version();

// Writes "ftengine: error: <message>" on stderr, whatever the log level.
void print_error(std::string_view message);

}  // namespace ft::cli
