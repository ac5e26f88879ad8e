#include "engine/data/examples.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "engine/data/jsonl.hpp"
#include "ftengine/error.hpp"

namespace ft::engine {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The names `fields` may rename: those of a record, then those of a chat message.
constexpr std::array<std::string_view, 11> kRecordFields = {
    "text",     "instruction",   "input", "output", "system",    "history",
    "messages", "conversations", "tools", "prompt", "completion"};
constexpr std::array<std::string_view, 4> kMessageFields = {"role", "content", "from", "value"};

constexpr std::string_view kRoleList =
    "system, user, assistant, tool, or ShareGPT's human, gpt, function_call, observation "
    "(function and ipython are also read as tool)";

bool contains(const auto& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string join(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ", "));
}

// Thrown while converting one record; the reader adds the origin and throws or skips.
struct BadRecordReason {
  std::string reason;
};

[[noreturn]] void bad(std::string reason) { throw BadRecordReason{std::move(reason)}; }

// options.fields, checked, and applied to records and messages.
class FieldNames {
 public:
  explicit FieldNames(const std::map<std::string, std::string>& fields) {
    for (const auto& [canonical, name] : fields) {
      const bool record = contains(kRecordFields, canonical);
      if (!record && !contains(kMessageFields, canonical)) {
        std::vector<std::string> valid(kRecordFields.begin(), kRecordFields.end());
        valid.insert(valid.end(), kMessageFields.begin(), kMessageFields.end());
        throw Error(
            fmt::format("fields: \"{}\" is not a field name; the names that can be renamed "
                        "are {}",
                        canonical, join(valid)));
      }
      if (name.empty())
        throw Error(fmt::format("fields: \"{}\" is renamed to an empty name", canonical));
      auto& inverse = record ? record_inverse_ : message_inverse_;
      const auto [it, inserted] = inverse.emplace(name, canonical);
      if (!inserted)
        throw Error(fmt::format("fields: \"{}\" and \"{}\" are both renamed to \"{}\"", it->second,
                                canonical, name));
      in_file_[canonical] = name;
    }
  }

  json record(json value) const { return rename(std::move(value), record_inverse_); }
  json message(json value) const { return rename(std::move(value), message_inverse_); }

  // How the file calls a canonical field, for messages.
  std::string in_file(const std::string& canonical) const {
    const auto it = in_file_.find(canonical);
    return it == in_file_.end() ? canonical : it->second;
  }

  // "instruction", or "instruction (\"question\")" when renamed.
  std::string describe(const std::string& canonical) const {
    const std::string name = in_file(canonical);
    return name == canonical ? canonical : fmt::format("{} (\"{}\")", canonical, name);
  }

 private:
  // Renamed keys take their canonical names; a key that already has a canonical name which
  // is renamed is dropped (the renaming says where that field really is).
  json rename(json value, const std::map<std::string, std::string>& inverse) const {
    if (inverse.empty()) return value;
    json out = json::object();
    for (auto& [key, item] : value.items()) {
      const auto it = inverse.find(key);
      if (it != inverse.end()) out[it->second] = std::move(item);
    }
    for (auto& [key, item] : value.items())
      if (!inverse.contains(key) && !in_file_.contains(key) && !out.contains(key))
        out[key] = std::move(item);
    return out;
  }

  std::map<std::string, std::string> record_inverse_;   // name in the file -> canonical
  std::map<std::string, std::string> message_inverse_;  // the same, for chat messages
  std::map<std::string, std::string> in_file_;          // canonical -> name in the file
};

// --- Converting one record (already renamed) -------------------------------------------------

class Converter {
 public:
  explicit Converter(const FieldNames& names) : names_(names) {}

  Example convert(const json& record, DataFormat format) const {
    Example example;
    example.format = format;
    switch (format) {
      case DataFormat::text:
        example.messages.push_back({Role::assistant, required(record, "text"), ""});
        break;
      case DataFormat::completion:
        example.messages.push_back({Role::user, required(record, "prompt"), ""});
        example.messages.push_back({Role::assistant, required(record, "completion"), ""});
        break;
      case DataFormat::alpaca:
        alpaca(record, example);
        break;
      case DataFormat::chat:
        chat(record, example);
        break;
      case DataFormat::auto_detect:
        throw InternalError("examples: converting a record with an undetected format");
    }
    return example;
  }

 private:
  // record[field] as a non-empty string.
  std::string required(const json& record, const std::string& field) const {
    const auto it = record.find(field);
    if (it == record.end()) bad(fmt::format("no \"{}\" field", names_.in_file(field)));
    if (!it->is_string())
      bad(fmt::format("\"{}\" must be a string, found {}", names_.in_file(field),
                      a_json_type(*it)));
    if (it->get_ref<const std::string&>().empty())
      bad(fmt::format("\"{}\" is empty", names_.in_file(field)));
    return it->get<std::string>();
  }

  // record[field] as a string; "" when absent or null.
  std::string optional(const json& record, const std::string& field) const {
    const auto it = record.find(field);
    if (it == record.end() || it->is_null()) return "";
    if (!it->is_string())
      bad(fmt::format("\"{}\" must be a string, found {}", names_.in_file(field),
                      a_json_type(*it)));
    return it->get<std::string>();
  }

  void alpaca(const json& record, Example& example) const {
    std::string instruction = required(record, "instruction");
    std::string input = optional(record, "input");
    std::string output = required(record, "output");
    if (std::string system = optional(record, "system"); !system.empty())
      example.messages.push_back({Role::system, std::move(system), ""});
    if (const auto it = record.find("history"); it != record.end() && !it->is_null()) {
      const std::string name = names_.in_file("history");
      if (!it->is_array())
        bad(fmt::format("\"{}\" must be an array of [query, response] pairs, found {}", name,
                        a_json_type(*it)));
      for (std::size_t i = 0; i < it->size(); ++i) {
        const json& pair = (*it)[i];
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string())
          bad(fmt::format("\"{}\" item {} must be a [query, response] pair of strings", name,
                          i + 1));
        for (int k = 0; k < 2; ++k)
          if (pair[k].get_ref<const std::string&>().empty())
            bad(fmt::format("\"{}\" item {} has an empty {}", name, i + 1,
                            k == 0 ? "query" : "response"));
        example.messages.push_back({Role::user, pair[0].get<std::string>(), ""});
        example.messages.push_back({Role::assistant, pair[1].get<std::string>(), ""});
      }
    }
    example.messages.push_back({Role::user, std::move(instruction), std::move(input)});
    example.messages.push_back({Role::assistant, std::move(output), ""});
  }

  static std::optional<Role> role_named(std::string_view name) {
    if (name == "system") return Role::system;
    if (name == "user" || name == "human") return Role::user;
    if (name == "assistant" || name == "gpt" || name == "function_call") return Role::assistant;
    if (name == "tool" || name == "observation" || name == "function" || name == "ipython")
      return Role::tool;
    return std::nullopt;
  }

  void chat(const json& record, Example& example) const {
    const bool has_messages = record.contains("messages");
    const std::string list_name = has_messages ? "messages" : "conversations";
    const auto list = record.find(list_name);
    if (list == record.end())
      bad(fmt::format("no \"{}\" or \"{}\" field", names_.in_file("messages"),
                      names_.in_file("conversations")));
    const std::string list_in_file = names_.in_file(list_name);
    if (!list->is_array())
      bad(fmt::format("\"{}\" must be an array of messages, found {}", list_in_file,
                      a_json_type(*list)));
    if (list->empty()) bad(fmt::format("\"{}\" is an empty list", list_in_file));

    const std::string system = optional(record, "system");
    if (!system.empty()) example.messages.push_back({Role::system, system, ""});
    example.tools = tools(record);

    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::size_t number = i + 1;
      if (!(*list)[i].is_object())
        bad(fmt::format("message {} must be an object, found {}", number, a_json_type((*list)[i])));
      const json message = names_.message((*list)[i]);
      // ShareGPT's messages have "from" and "value"; the others "role" and "content".
      const bool sharegpt = message.contains("from");
      const std::string role_key = sharegpt ? "from" : "role";
      const std::string content_key = sharegpt ? "value" : "content";
      const std::string role_name = names_.in_file(role_key);
      const std::string content_name = names_.in_file(content_key);

      const auto role_it = message.find(role_key);
      if (role_it == message.end())
        bad(fmt::format("message {} has no \"{}\" field", number, role_name));
      if (!role_it->is_string())
        bad(fmt::format("message {}: \"{}\" must be a string, found {}", number, role_name,
                        a_json_type(*role_it)));
      const std::string& role_text = role_it->get_ref<const std::string&>();
      const std::optional<Role> role = role_named(role_text);
      if (!role)
        bad(fmt::format("message {} has an unknown role \"{}\"; the roles are {}", number,
                        role_text, kRoleList));
      if (*role == Role::system && !example.messages.empty())
        bad(i == 0 ? fmt::format("message 1 is a system message, but the record already has a "
                                 "\"{}\" field",
                                 names_.in_file("system"))
                   : fmt::format("message {} is a system message; only the first message may "
                                 "be one",
                                 number));

      const auto content = message.find(content_key);
      if (content == message.end())
        bad(fmt::format("message {} has no \"{}\" field", number, content_name));
      if (!content->is_string())
        bad(fmt::format("message {}: \"{}\" must be a string, found {}", number, content_name,
                        a_json_type(*content)));
      const std::string& text = content->get_ref<const std::string&>();
      // An empty system prompt or tool result can mean something; an empty turn cannot.
      if (text.empty() && (*role == Role::user || *role == Role::assistant))
        bad(fmt::format("message {} ({}) has empty content", number, to_string(*role)));
      example.messages.push_back({*role, text, ""});
    }
  }

  // The record's "tools" as JSON text; "" for none (absent, null, or an empty list).
  std::string tools(const json& record) const {
    const auto it = record.find("tools");
    if (it == record.end() || it->is_null()) return "";
    if (!it->is_string() && !it->is_array() && !it->is_object())
      bad(fmt::format("\"{}\" must be a string, an array or an object, found {}",
                      names_.in_file("tools"), a_json_type(*it)));
    if (!it->is_string()) return it->empty() ? "" : it->dump();
    // LLaMA-Factory keeps tools as a JSON string, "[]" for none.
    const std::string& text = it->get_ref<const std::string&>();
    const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    const bool none =
        !parsed.is_discarded() && (parsed.is_array() || parsed.is_object()) && parsed.empty();
    return none ? "" : text;
  }

  const FieldNames& names_;
};

// --- Format detection ------------------------------------------------------------------------

std::optional<DataFormat> detect(const json& record) {
  if (record.contains("messages") || record.contains("conversations")) return DataFormat::chat;
  if (record.contains("instruction")) return DataFormat::alpaca;
  if (record.contains("prompt") && record.contains("completion")) return DataFormat::completion;
  if (record.contains("text")) return DataFormat::text;
  return std::nullopt;
}

std::vector<std::string> fields_of(DataFormat format) {
  switch (format) {
    case DataFormat::text:
      return {"text"};
    case DataFormat::alpaca:
      return {"instruction", "input", "output", "system", "history"};
    case DataFormat::chat:
      return {"messages", "conversations", "system", "tools"};
    case DataFormat::completion:
      return {"prompt", "completion"};
    case DataFormat::auto_detect:
      break;
  }
  return {};
}

// --- Reading records -------------------------------------------------------------------------

class Reader {
 public:
  Reader(const fs::path& file, const ReadOptions& options)
      : file_(file), options_(options), names_(options.fields), converter_(names_) {
    result_.format = options.format;
  }

  // One record: its text as in the file, and where it starts (1-based line and byte column).
  void record(std::string_view text, std::int64_t line, std::int64_t column) {
    ++result_.records;
    const std::string origin = fmt::format("{}:{}", file_.string(), line);
    json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) return skip_or_throw(origin, invalid_json(text, line, column));
    if (!value.is_object())
      return skip_or_throw(origin,
                           fmt::format("expected a JSON object, found {}", a_json_type(value)));
    std::vector<std::string> keys_in_file;
    if (result_.format == DataFormat::auto_detect)
      for (const auto& item : value.items()) keys_in_file.push_back(item.key());
    value = names_.record(std::move(value));
    if (result_.format == DataFormat::auto_detect) detect_format(value, keys_in_file, origin);
    try {
      Example example = converter_.convert(value, result_.format);
      example.origin = origin;
      result_.examples.push_back(std::move(example));
    } catch (const BadRecordReason& e) {
      skip_or_throw(origin, e.reason);
    }
  }

  // The whole file as one plain-text example.
  void plain_text(std::string text) {
    ++result_.records;
    const std::string origin = fmt::format("{}:1", file_.string());
    if (text.empty()) return skip_or_throw(origin, "the file is empty");
    result_.examples.push_back(
        {DataFormat::text, {{Role::assistant, std::move(text), ""}}, "", origin});
  }

  ReadResult& result() { return result_; }

 private:
  // nlohmann's message, from parsing the record again placed where it is in the file, so
  // that its "line L, column C" are the file's own.
  static std::string invalid_json(std::string_view text, std::int64_t line, std::int64_t column) {
    std::string placed(static_cast<std::size_t>(line - 1), '\n');
    placed.append(static_cast<std::size_t>(column - 1), ' ');
    placed.append(text);
    try {
      const json unused = json::parse(placed);
    } catch (const json::parse_error& e) {
      return fmt::format("invalid JSON: {}", e.what());
    }
    return "invalid JSON";
  }

  void detect_format(const json& record, const std::vector<std::string>& keys_in_file,
                     const std::string& origin) {
    const std::optional<DataFormat> format = detect(record);
    if (!format)
      throw Error(fmt::format(
          "{}: cannot tell the data format from the record's fields ({}): text needs \"text\", "
          "alpaca \"instruction\" and \"output\", chat \"messages\" or \"conversations\", "
          "completion \"prompt\" and \"completion\"; set the format, or rename the fields",
          origin, keys_in_file.empty() ? "none" : join(keys_in_file)));
    std::vector<std::string> present;
    for (const std::string& field : fields_of(*format))
      if (record.contains(field)) present.push_back(names_.describe(field));
    result_.format = *format;
    result_.detected = fmt::format("{} has {}", origin, join(present));
  }

  void skip_or_throw(const std::string& origin, std::string reason) {
    if (!options_.skip_bad_records) throw Error(fmt::format("{}: {}", origin, reason));
    result_.skipped.push_back({origin, std::move(reason)});
  }

  const fs::path& file_;
  const ReadOptions& options_;
  FieldNames names_;
  Converter converter_;
  ReadResult result_;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void read_json_lines(std::string_view text, Reader& reader) {
  std::int64_t number = 1;
  for (std::size_t start = 0; start < text.size(); ++number) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) reader.record(line, number, 1);
    start = end + 1;
  }
}

// Finds each element of the JSON array opening at text[open] by scanning for the commas and
// the ']' outside strings and nested values, and hands it to the reader with its line, so
// that a record (or a syntax error in it) is reported where it is.
void read_json_array(const fs::path& file, std::string_view text, std::size_t open,
                     Reader& reader) {
  std::int64_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t k = 0; k < open; ++k)
    if (text[k] == '\n') ++line, line_start = k + 1;
  const std::int64_t open_line = line;
  std::size_t i = open + 1;
  const auto skip_space = [&] {
    for (; i < text.size() && is_space(text[i]); ++i)
      if (text[i] == '\n') ++line, line_start = i + 1;
  };

  skip_space();
  if (i < text.size() && text[i] == ']') {
    ++i;
  } else {
    for (;;) {
      skip_space();
      const std::size_t start = i;
      const std::int64_t start_line = line;
      const auto column = static_cast<std::int64_t>(start - line_start + 1);
      int depth = 0;
      bool in_string = false, escaped = false;
      for (; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') ++line, line_start = i + 1;
        if (in_string) {
          if (escaped)
            escaped = false;
          else if (c == '\\')
            escaped = true;
          else if (c == '"')
            in_string = false;
        } else if (c == '"') {
          in_string = true;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (depth > 0)
            --depth;
          else if (c == ']')
            break;  // the array's end; a stray '}' stays in the element, for nlohmann to refuse
        } else if (c == ',' && depth == 0) {
          break;
        }
      }
      reader.record(text.substr(start, i - start), start_line, column);
      if (i == text.size())
        throw Error(fmt::format("{}:{}: the JSON array that starts here has no closing ']'",
                                file.string(), open_line));
      if (text[i++] == ']') break;
    }
  }
  skip_space();
  if (i < text.size())
    throw Error(fmt::format("{}:{}: unexpected text after the JSON array (it ends before)",
                            file.string(), line));
}

}  // namespace

std::string_view to_string(Role role) {
  switch (role) {
    case Role::system:
      return "system";
    case Role::user:
      return "user";
    case Role::assistant:
      return "assistant";
    case Role::tool:
      return "tool";
  }
  return "?";
}

ReadResult read_examples(const fs::path& file, const ReadOptions& options) {
  Reader reader(file, options);  // checks options.fields first
  if (fs::is_directory(file))
    throw Error(fmt::format("{}: is a directory, expected a data file", file.string()));
  std::string text = read_whole_file(file);
  const std::string ext = file.extension().string();

  if (!is_json_lines(file)) {
    if (options.format != DataFormat::auto_detect && options.format != DataFormat::text)
      throw Error(fmt::format(
          "{}: the {} format needs a JSON array (.json) or JSON Lines (.jsonl, .ndjson) file; "
          "this one is read as plain text, one text example",
          file.string(), to_string(options.format)));
    reader.result().format = DataFormat::text;
    if (options.format == DataFormat::auto_detect)
      reader.result().detected =
          fmt::format("{} is not .json, .jsonl or .ndjson: one plain-text example", file.string());
    reader.plain_text(std::move(text));
    return std::move(reader.result());
  }

  // A UTF-8 byte order mark is not data (nlohmann skips one only at its input's start).
  const std::size_t bom = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  const std::size_t first = text.find_first_not_of(" \t\r\n", bom);
  const std::string_view view(text);
  if (ext == ".json" && first != std::string::npos && text[first] == '[')
    read_json_array(file, view, first, reader);
  else
    read_json_lines(view, reader);  // nlohmann skips a BOM at the start of line 1

  ReadResult& result = reader.result();
  if (result.format == DataFormat::auto_detect) {  // no good record to detect from
    result.format = DataFormat::text;
    result.detected = fmt::format("{} has no good record to tell the format from", file.string());
  }
  return std::move(result);
}

}  // namespace ft::engine
