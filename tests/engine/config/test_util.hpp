// Shared by the config tests: where the fixture jobs are, and problems as text.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "engine/config/job.hpp"

namespace ft::engine::test {

inline std::filesystem::path source_dir() { return FTENGINE_SOURCE_DIR; }
inline std::filesystem::path jobs_dir() { return source_dir() / "tests/engine/config/jobs"; }
inline std::filesystem::path job_path(const std::string& name) { return jobs_dir() / name; }

// Every occurrence of `from` in `text` replaced by `to`.
inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The problems as printed, with the fixture directory cut from paths so that expectations
// read "bad.toml:4:14: ...".
inline std::vector<std::string> problem_lines(const std::vector<Problem>& problems) {
  std::vector<std::string> lines;
  for (const Problem& p : problems)
    lines.push_back(replace_all(p.to_string(), jobs_dir().string() + "/", ""));
  return lines;
}

}  // namespace ft::engine::test
