// Internal to engine/config: `--set KEY=VALUE` overrides.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "engine/config/problems.hpp"

namespace ft::engine::detail {

// Applies each `KEY=VALUE` to `doc` in order (a later one wins), noting in `problems`
// which keys each one set. KEY is dotted bare keys ("train.max_steps"). VALUE is a TOML
// value ("10", "\"x\"", "true", "[1, 2]"); a bare word that is not TOML ("cpu",
// "models/tiny") is a string, and so is any unquoted VALUE for a key whose type is a
// string (job.name=2024). A malformed argument adds a problem and changes nothing.
void apply_overrides(toml::table& doc, const std::vector<std::string>& arguments,
                     ProblemList& problems);

}  // namespace ft::engine::detail
