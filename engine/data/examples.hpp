// Reading the datasets people fine-tune on into one shape: every format (plain text,
// Alpaca, chat/ShareGPT, prompt-completion) becomes an Example, a list of messages with
// roles, which a chat template (chat_template.hpp) then renders into tokens and loss masks.
//
//   ReadResult r = read_examples("data/identity.json", {.format = DataFormat::auto_detect});
//   // r.format == alpaca, r.examples[0].messages == {user "hi", assistant "Hello! ..."}
//
// Files: a .json file holding a JSON array of objects, or JSON Lines (.jsonl, .ndjson, or a
// .json file whose first non-blank character is not '['); any other file is one plain-text
// example, its whole content. Every record knows its origin, "file:line" (the line its
// object starts on, also inside a JSON array), for messages.
//
// Formats and their fields (canonical names; `fields` renames them, e.g. instruction ->
// "question", messages -> "conversations", role -> "from", content -> "value"):
//   text        text                              -> one assistant message (all trained)
//   alpaca      instruction, input?, output,      -> [system], user (instruction, with
//               system?, history? [[q, a], ...]      `input` kept apart), assistant;
//                                                    history turns come first
//   chat        messages [{role, content}]        -> the messages; roles system, user,
//               or ShareGPT conversations            assistant, tool; ShareGPT's human ->
//               [{from, value}], tools?, system?     user, gpt -> assistant, function_call
//                                                    -> assistant, observation -> tool
//   completion  prompt, completion                -> user (prompt), assistant (completion)
//
// A bad record (invalid JSON, not an object, a missing field, a wrong type, empty content,
// an unknown role, a system message after the first) is an ft::Error naming file, line
// and the problem; with skip_bad_records it is counted and skipped instead.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/config/job.hpp"

namespace ft::engine {

enum class Role { system, user, assistant, tool };
std::string_view to_string(Role role);

struct Message {
  Role role = Role::user;
  std::string content;
  std::string input;  // Alpaca's optional context of a user turn; "" for none
};

struct Example {
  DataFormat format = DataFormat::text;  // never auto_detect
  std::vector<Message> messages;
  std::string tools;   // the tools a ShareGPT record offers (JSON text), "" for none
  std::string origin;  // "data/train.json:12"
};

struct ReadOptions {
  DataFormat format = DataFormat::auto_detect;
  // Canonical field name -> the name in the file ("instruction" -> "question").
  std::map<std::string, std::string> fields;
  bool skip_bad_records = false;
};

struct BadRecord {
  std::string origin;  // "file:line"
  std::string reason;  // "no \"output\" field"
};

struct ReadResult {
  std::vector<Example> examples;
  DataFormat format = DataFormat::text;  // as given, or detected from the first record
  std::string detected;  // "" when given; else why, e.g. "x.json:1 has instruction, output"
  std::int64_t records = 0;        // records read, good and bad
  std::vector<BadRecord> skipped;  // only with skip_bad_records
};

// ft::Error for a file that cannot be read, a format that cannot be detected (naming the
// fields found and what each format needs), a field name in `fields` that no format has,
// and bad records (unless skipped).
ReadResult read_examples(const std::filesystem::path& file, const ReadOptions& options);

}  // namespace ft::engine
