#include "engine/model_init/output_dir.hpp"

#include <fmt/format.h>

#include "ftengine/error.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

void create_empty_directory(const fs::path& dir, std::string_view command) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir))
      throw Error(fmt::format("{}: exists and is not a directory", dir.string()));
    if (!fs::is_empty(dir))
      throw Error(
          fmt::format("{}: directory is not empty; {} writes into a new or empty directory so "
                      "it overwrites nothing",
                      dir.string(), command));
  }
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create directory: {}", dir.string(), ec.message()));
}

}  // namespace ft::engine
