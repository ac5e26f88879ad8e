// Internal to engine/config: holds a parsed job (overrides applied) to the schema.
#pragma once

#include <toml++/toml.h>

#include <string>

#include "engine/config/job.hpp"
#include "engine/config/problems.hpp"
#include "engine/config/schema.hpp"

namespace ft::engine::detail {

// Adds a problem for every way `doc` breaks the schema: unknown sections and keys (with a
// suggestion), wrong types, values out of range or not among the choices, missing required
// keys, keys of another built-in plugin, keys that exclude each other, and the rules that
// tie keys together (nesterov needs momentum).
void check_document(const toml::table& doc, JobPurpose purpose, ProblemList& problems);

// Checks one value against its key; `key_path` is "section.key". Returns false when a
// problem was added.
bool check_value(const schema::Key& key, const std::string& key_path, const toml::node& node,
                 ProblemList& problems);

// A value as messages quote it: 0, 1.5, "f16".
std::string format_value(const toml::node& node);

}  // namespace ft::engine::detail
