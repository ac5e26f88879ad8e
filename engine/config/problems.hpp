// Internal to engine/config: collects job problems and knows where each key came from
// (a position in the job file, or a --set argument), so that every check reports a
// location without carrying one around.
#pragma once

#include <toml++/toml.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/job.hpp"

namespace ft::engine::detail {

class ProblemList {
 public:
  ProblemList(std::string file_origin, std::vector<std::string> override_arguments);

  // From now on `key_path` ("train.max_steps") and everything under it is reported at
  // `argument` (a --set) rather than at a file position.
  void note_override(const std::string& key_path, const std::string& argument);
  // The --set argument that set key_path or a table above it, or nullptr.
  const std::string* override_for(std::string_view key_path) const;

  // A problem with key_path, whose node (or key) the file holds at `where`.
  void add(std::string key_path, const toml::source_region& where, std::string message);
  // A problem at a given place in the job file (line 0: no position).
  void add_in_file(int line, int column, std::string key_path, std::string message);
  // A problem with a --set argument itself.
  void add_in_override(const std::string& argument, std::string key_path, std::string message);

  // "bad.toml:5:16" or "--set schedule.warmup_steps=10": for pointing at the other half of
  // a conflict.
  std::string location(std::string_view key_path, const toml::source_region& where) const;

  const std::string& file_origin() const { return file_origin_; }
  bool empty() const { return problems_.empty(); }
  // Job file problems by position, then --set problems in argument order.
  std::vector<Problem> sorted() const;

 private:
  Problem locate(std::string key_path, const toml::source_region& where, std::string message) const;
  int rank(const Problem& problem) const;

  std::string file_origin_;
  std::vector<std::string> override_arguments_;
  std::map<std::string, std::string, std::less<>> override_of_key_;
  std::vector<Problem> problems_;
};

// "a string", "an integer", "a table": how messages name what was found.
std::string_view describe_node_type(const toml::node& node);

}  // namespace ft::engine::detail
