// The job file schema: every section and key a job may hold, with its type, default,
// allowed range or values, whether it is required, and a one-line meaning. It is the one
// place that knows what a valid job is: validation (job.cpp), defaults, the typed Job, the
// `--set` type checks and docs/job-file.md (checked by a test) all read it.
//
// A section is closed: a key it does not list is an error with a "did you mean". A
// section with a `plugin` key and a list of built-in plugins is closed only while
// `plugin` names a built-in; for any other (third-party) plugin it is open, and keys the
// schema does not know are passed through to that plugin untouched (Job::adapter.extra).
// Keys that only make sense for some built-in plugins (adapter.quant_type is QLoRA's)
// name them in `plugins`, and setting them for another built-in plugin is an error.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ft::engine::schema {

enum class Type {
  string,        // a non-empty string
  integer,       // a TOML integer
  number,        // a TOML float or integer, finite
  boolean,       // true or false
  string_list,   // a non-empty string, or a non-empty array of non-empty strings
  string_array,  // an array (possibly empty) of non-empty strings
  number_array,  // an array of numbers (of `length` elements when length > 0)
  string_table,  // a table of string values ([data.fields]), possibly empty strings
};

// When a key must be present.
enum class Required {
  no,
  always,
  to_train,  // only for commands that train (run): data.train
};

// One end of an allowed range.
struct Bound {
  double value = 0;
  bool inclusive = true;
};

struct Key {
  std::string_view name;
  Type type = Type::string;
  std::string_view doc;  // one line, used as-is in docs/job-file.md
  // The default as a TOML literal ("2e-4", "\"cosine\"", "[0.9, 0.999]"); empty: none
  // (the key is optional and absent from the job unless set, or required).
  std::string_view default_value = {};
  // The default described for people, when it is computed ("the file name without .toml").
  std::string_view default_doc = {};
  Required required = Required::no;
  std::optional<Bound> min = {};  // numbers, and each element of a number_array
  std::optional<Bound> max = {};
  // Allowed values of a string. With open_choices they are only the known ones (plugin
  // names, listed in the docs), and any string is accepted.
  std::vector<std::string_view> choices = {};
  bool open_choices = false;
  int length = 0;  // number_array: exact element count (0: any)
  // Only for these built-in plugins of the section (empty: every plugin).
  std::vector<std::string_view> plugins = {};
  // A filesystem path (or list of paths): relative ones are resolved (see job.hpp).
  bool is_path = false;
  // Another key of the section that may not be set together with this one. When either
  // is set, neither default is filled in.
  std::string_view excludes = {};
};

struct Section {
  std::string_view name;
  std::string_view doc;
  std::vector<Key> keys;
  // Non-empty: the section is open for any `plugin` not listed here (see above).
  std::vector<std::string_view> builtin_plugins = {};

  const Key* find(std::string_view key) const;
  bool is_open_for(std::string_view plugin) const;
};

// All sections, in the order the docs and the resolved job list them.
std::span<const Section> sections();
const Section* find_section(std::string_view name);

// "an integer >= 1", "a number in [0, 1)", "one of \"f32\", \"bf16\"", "an array of 2
// numbers in [0, 1)": what a value of this key must be, as the error messages say it.
std::string describe_expected(const Key& key);
// The range alone (">= 1", "[0, 1)"), or "" when the key has none; for the docs.
std::string describe_range(const Key& key);
// The type alone, as the docs' type column says it ("integer", "string or array of strings").
std::string describe_type(const Key& key);
// The default as the docs show it: the TOML literal, the computed default, "required",
// or "none".
std::string describe_default(const Key& key);

// The reference tables of docs/job-file.md: one per section, generated from this schema.
// A test holds the doc to this text, so the doc cannot drift from the code.
std::string markdown_table(const Section& section);

}  // namespace ft::engine::schema
