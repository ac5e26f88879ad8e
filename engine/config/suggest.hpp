// "Did you mean": the closest known name to a misspelt one.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ft::engine {

// Optimal string alignment distance (Levenshtein plus swaps of two adjacent letters),
// case-sensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate that `word` most likely meant: the nearest one within edit distance 2
// (ties go to the first), else one that contains `word` or is contained in it (the longest
// overlap wins, at least 2 letters unless the candidate is a single letter), else nothing.
std::optional<std::string> suggest(std::string_view word,
                                   std::span<const std::string_view> candidates);

}  // namespace ft::engine
