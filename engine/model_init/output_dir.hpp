// The directory an `init-*` command writes into: created, or used when it exists empty, so
// the command overwrites nothing.
#pragma once

#include <filesystem>
#include <string_view>

namespace ft::engine {

// ft::Error naming `dir` when it exists as a file or a non-empty directory, or cannot be
// created. `command` names the writer in the message ("init-model").
void create_empty_directory(const std::filesystem::path& dir, std::string_view command);

}  // namespace ft::engine
