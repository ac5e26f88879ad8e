// plugin_search_path(): where plugins are looked for, in priority order.
#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <system_error>

#include "engine/plugins/registry.hpp"
#include "ftengine/log.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

namespace {

// FTENGINE_PLUGIN_PATH, split on ':'. Empty entries are dropped rather than read as the
// current directory (the shell's convention for PATH): a stray ':' must not make ftengine
// load whatever libftengine-*.so lies in the directory it was started from. "." is kept:
// that the user wrote.
std::vector<fs::path> environment_dirs() {
  std::vector<fs::path> dirs;
  const char* value = std::getenv("FTENGINE_PLUGIN_PATH");
  if (value == nullptr) return dirs;
  std::string_view rest = value;
  while (true) {
    const std::size_t colon = rest.find(':');
    const std::string_view entry = rest.substr(0, colon);
    if (!entry.empty()) dirs.emplace_back(entry);
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return dirs;
}

// <dir of the running executable>/../lib/ftengine/plugins: bin/ftengine next to
// lib/ftengine/plugins, in the build tree and the install tree alike; and
// ../<install libdir>/ftengine/plugins when the install's libdir is another (lib/<multiarch>).
std::vector<fs::path> executable_plugin_dirs() {
  boost::dll::fs::error_code error;
  const boost::dll::fs::path exe = boost::dll::program_location(error);
  if (error) {
    log::debug(
        "plugins: cannot locate the running executable ({}): no plugin directory next "
        "to it",
        error.message());
    return {};
  }
  const fs::path prefix = fs::path(exe.string()).parent_path() / "..";
  std::vector<fs::path> dirs{prefix / "lib" / "ftengine" / "plugins"};
  if (std::string_view(FTENGINE_INSTALL_LIBDIR) != "lib")
    dirs.push_back(prefix / FTENGINE_INSTALL_LIBDIR / "ftengine" / "plugins");
  return dirs;
}

}  // namespace

std::vector<fs::path> plugin_search_path(const std::vector<fs::path>& cli_dirs,
                                         const std::vector<fs::path>& job_dirs) {
  std::vector<fs::path> candidates = cli_dirs;
  for (fs::path& dir : environment_dirs()) candidates.push_back(std::move(dir));
  candidates.insert(candidates.end(), job_dirs.begin(), job_dirs.end());
  for (fs::path& dir : executable_plugin_dirs()) candidates.push_back(std::move(dir));

  std::vector<fs::path> dirs;
  std::vector<fs::path> seen;  // canonical forms of dirs
  for (const fs::path& candidate : candidates) {
    // An empty path would mean the current directory, which is only searched when named.
    if (candidate.empty()) continue;
    std::error_code error;
    fs::path absolute = fs::absolute(candidate, error).lexically_normal();
    if (error) {
      log::debug("plugins: cannot resolve {} ({}), skipped", candidate.string(), error.message());
      continue;
    }
    if (absolute.filename().empty() && absolute.has_relative_path())  // "/a/b/" -> "/a/b"
      absolute = absolute.parent_path();
    fs::path canonical = fs::weakly_canonical(absolute, error);
    if (error) canonical = absolute;
    if (std::find(seen.begin(), seen.end(), canonical) != seen.end()) continue;
    seen.push_back(std::move(canonical));
    dirs.push_back(absolute);
  }
  return dirs;
}

}  // namespace ft::engine
