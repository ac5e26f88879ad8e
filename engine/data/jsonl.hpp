// Reading data files: JSON Lines records with "file:line" in every error, and plain text.
// Shared by training data (text_dataset) and evaluation (eval/evaluate) so both accept and
// refuse the same files with the same messages.
//
//   for_each_json_line("train.jsonl", [&](const nlohmann::json& record, const std::string& at) {
//     texts.push_back(string_field(record, "text", at));   // at = "train.jsonl:12"
//   });
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace ft::engine {

// .jsonl, .ndjson and .json files are read as one JSON object per line.
bool is_json_lines(const std::filesystem::path& file);

// Calls `visit(record, "file:line")` for every non-blank line, in order. ft::Error naming
// file and line for invalid JSON or a line that is not a JSON object; for a file that cannot
// be opened.
void for_each_json_line(
    const std::filesystem::path& file,
    const std::function<void(const nlohmann::json& record, const std::string& at)>& visit);

// record[field] as a string; ft::Error at `at` when it is missing or not a string.
const std::string& string_field(const nlohmann::json& record, const std::string& field,
                                const std::string& at);

// The whole file, bytes as they are. ft::Error when it cannot be read.
std::string read_whole_file(const std::filesystem::path& file);

// "an array", "a string": a JSON value's type as a phrase, for messages.
std::string a_json_type(const nlohmann::json& value);

}  // namespace ft::engine
