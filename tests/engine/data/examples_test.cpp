// read_examples: every dataset format read into messages, checked field by field on small
// hand-written records; "file:line" in every error, also inside pretty-printed JSON arrays;
// field renaming; format detection; each kind of bad record, thrown or skipped; and
// LLaMA-Factory's demo datasets from ../shared/testdata, with counts worked out by hand
// from the files (see their PROVENANCE.md).
#include "engine/data/examples.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/engine/data/data_test_util.hpp"

namespace ft::testing {
namespace {

namespace fs = std::filesystem;
using engine::DataFormat;
using engine::Example;
using engine::read_examples;
using engine::ReadOptions;
using engine::ReadResult;
using engine::Role;

// "user:hi" for each message, "user:hi|ctx" when it has an input.
std::vector<std::string> turns(const Example& example) {
  std::vector<std::string> out;
  for (const engine::Message& m : example.messages)
    out.push_back(std::string(engine::to_string(m.role)) + ":" + m.content +
                  (m.input.empty() ? "" : "|" + m.input));
  return out;
}

using Turns = std::vector<std::string>;

class Examples : public DataTest {
 protected:
  ReadResult read(const fs::path& file, DataFormat format = DataFormat::auto_detect,
                  std::map<std::string, std::string> fields = {}, bool skip = false) const {
    return read_examples(file,
                         {.format = format, .fields = std::move(fields), .skip_bad_records = skip});
  }
  // The error reading a JSONL file holding `lines` gives.
  std::string jsonl_error(const std::string& lines,
                          DataFormat format = DataFormat::auto_detect) const {
    const fs::path file = write("bad.jsonl", lines);
    return error_of([&] { read(file, format); });
  }
  std::string at(const std::string& name, int line) const {
    return fmt::format("{}:{}", (dir_ / name).string(), line);
  }
};

TEST_F(Examples, AlpacaArrayFieldByField) {
  const fs::path file = write("a.json", R"([
  {
    "instruction": "hi",
    "input": "",
    "output": "Hello!"
  },
  {"instruction": "Sum", "input": "1 2", "output": "3", "system": "Be terse.",
   "history": [["q1", "a1"], ["q2", "a2"]]}
]
)");
  const ReadResult r = read(file);
  EXPECT_EQ(r.format, DataFormat::alpaca);
  EXPECT_EQ(r.detected, at("a.json", 2) + " has instruction, input, output");
  EXPECT_EQ(r.records, 2);
  EXPECT_TRUE(r.skipped.empty());
  ASSERT_EQ(r.examples.size(), 2u);
  EXPECT_EQ(r.examples[0].format, DataFormat::alpaca);
  EXPECT_EQ(r.examples[0].origin, at("a.json", 2));
  EXPECT_EQ(turns(r.examples[0]), (Turns{"user:hi", "assistant:Hello!"}));
  EXPECT_EQ(r.examples[0].messages[0].input, "");
  EXPECT_EQ(r.examples[1].origin, at("a.json", 7));
  EXPECT_EQ(turns(r.examples[1]), (Turns{"system:Be terse.", "user:q1", "assistant:a1", "user:q2",
                                         "assistant:a2", "user:Sum|1 2", "assistant:3"}));
  EXPECT_EQ(r.examples[1].messages[5].content, "Sum");
  EXPECT_EQ(r.examples[1].messages[5].input, "1 2");
  EXPECT_TRUE(r.examples[1].tools.empty());
}

TEST_F(Examples, AlpacaNullInputAndSystemAreNone) {
  const ReadResult r = read(
      write("a.jsonl",
            R"({"instruction": "i", "input": null, "output": "o", "system": "", "history": []})"));
  ASSERT_EQ(r.examples.size(), 1u);
  EXPECT_EQ(turns(r.examples[0]), (Turns{"user:i", "assistant:o"}));
}

TEST_F(Examples, JsonLinesSkipBlankLinesAndCountLines) {
  const fs::path file = write("t.jsonl", "{\"text\": \"one\"}\n\n  \r\n{\"text\": \"two\"}\r\n");
  const ReadResult r = read(file);
  EXPECT_EQ(r.format, DataFormat::text);
  EXPECT_EQ(r.detected, at("t.jsonl", 1) + " has text");
  EXPECT_EQ(r.records, 2);
  ASSERT_EQ(r.examples.size(), 2u);
  EXPECT_EQ(turns(r.examples[0]), (Turns{"assistant:one"}));
  EXPECT_EQ(turns(r.examples[1]), (Turns{"assistant:two"}));
  EXPECT_EQ(r.examples[1].origin, at("t.jsonl", 4));
  EXPECT_EQ(r.examples[1].format, DataFormat::text);
}

TEST_F(Examples, JsonFileNotStartingWithBracketIsJsonLines) {
  const fs::path file = write("c.json",
                              "\n{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n"
                              "{\"prompt\": \"3+3=\", \"completion\": \"6\"}\n");
  const ReadResult r = read(file);
  EXPECT_EQ(r.format, DataFormat::completion);
  EXPECT_EQ(r.detected, at("c.json", 2) + " has prompt, completion");
  ASSERT_EQ(r.examples.size(), 2u);
  EXPECT_EQ(turns(r.examples[0]), (Turns{"user:2+2=", "assistant:4"}));
  EXPECT_EQ(turns(r.examples[1]), (Turns{"user:3+3=", "assistant:6"}));
  EXPECT_EQ(r.examples[1].origin, at("c.json", 3));
}

TEST_F(Examples, ChatMessages) {
  const fs::path file = write("m.jsonl", R"({"messages": [)"
                                         R"({"role": "system", "content": "sys"},)"
                                         R"({"role": "user", "content": "weather?"},)"
                                         R"({"role": "assistant", "content": "call"},)"
                                         R"({"role": "tool", "content": ""},)"
                                         R"({"role": "function", "content": "f"},)"
                                         R"({"role": "ipython", "content": "p"},)"
                                         R"({"role": "assistant", "content": "sunny"}],)"
                                         R"( "tools": [{"name": "get_weather"}]})"
                                         "\n");
  const ReadResult r = read(file);
  EXPECT_EQ(r.format, DataFormat::chat);
  EXPECT_EQ(r.detected, at("m.jsonl", 1) + " has messages, tools");
  ASSERT_EQ(r.examples.size(), 1u);
  const Example& e = r.examples[0];
  EXPECT_EQ(e.format, DataFormat::chat);
  EXPECT_EQ(turns(e), (Turns{"system:sys", "user:weather?", "assistant:call", "tool:", "tool:f",
                             "tool:p", "assistant:sunny"}));
  EXPECT_EQ(e.tools, R"([{"name":"get_weather"}])");
}

TEST_F(Examples, ShareGpt) {
  const fs::path file = write("s.json", R"([{"conversations": [
    {"from": "human", "value": "find a recipe"},
    {"from": "function_call", "value": "{\"name\": \"search\"}"},
    {"from": "observation", "value": "{\"recipes\": []}"},
    {"from": "gpt", "value": "none, sorry"}],
  "system": "You cook.",
  "tools": "[{\"name\": \"search\"}]"},
 {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}],
  "tools": "[]"},
 {"conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": "y"}],
  "tools": {"name": "t"}}
])");
  const ReadResult r = read(file);
  EXPECT_EQ(r.format, DataFormat::chat);
  EXPECT_EQ(r.detected, at("s.json", 1) + " has conversations, system, tools");
  ASSERT_EQ(r.examples.size(), 3u);
  EXPECT_EQ(turns(r.examples[0]),
            (Turns{"system:You cook.", "user:find a recipe", R"(assistant:{"name": "search"})",
                   R"(tool:{"recipes": []})", "assistant:none, sorry"}));
  EXPECT_EQ(r.examples[0].tools, R"([{"name": "search"}])");
  EXPECT_EQ(r.examples[1].origin, at("s.json", 8));
  EXPECT_EQ(turns(r.examples[1]), (Turns{"user:hi", "assistant:hello"}));
  EXPECT_EQ(r.examples[1].tools, "");  // "[]" offers no tools
  EXPECT_EQ(r.examples[2].origin, at("s.json", 10));
  EXPECT_EQ(r.examples[2].tools, R"({"name":"t"})");
}

TEST_F(Examples, PlainTextFileIsOneExample) {
  const std::string text = "Line one.\n[not json]\n{\"text\": 1}\n";
  const fs::path file = write("wiki.txt", text);
  for (DataFormat format : {DataFormat::auto_detect, DataFormat::text}) {
    const ReadResult r = read(file, format);
    EXPECT_EQ(r.format, DataFormat::text);
    EXPECT_EQ(r.records, 1);
    ASSERT_EQ(r.examples.size(), 1u);
    EXPECT_EQ(turns(r.examples[0]), (Turns{"assistant:" + text}));
    EXPECT_EQ(r.examples[0].origin, at("wiki.txt", 1));
    EXPECT_EQ(r.detected, format == DataFormat::text ? ""
                                                     : file.string() +
                                                           " is not .json, .jsonl or .ndjson: one "
                                                           "plain-text example");
  }
  EXPECT_EQ(error_of([&] { read(file, DataFormat::alpaca); }),
            file.string() +
                ": the alpaca format needs a JSON array (.json) or JSON Lines (.jsonl, .ndjson) "
                "file; this one is read as plain text, one text example");
  const fs::path empty = write("empty.txt", "");
  EXPECT_EQ(error_of([&] { read(empty); }), at("empty.txt", 1) + ": the file is empty");
}

TEST_F(Examples, GivenFormatIsUsedAsGiven) {
  const fs::path file = write("a.jsonl", R"({"instruction": "i", "output": "o", "text": "t"})");
  const ReadResult r = read(file, DataFormat::text);
  EXPECT_EQ(r.format, DataFormat::text);
  EXPECT_EQ(r.detected, "");
  ASSERT_EQ(r.examples.size(), 1u);
  EXPECT_EQ(turns(r.examples[0]), (Turns{"assistant:t"}));
  EXPECT_EQ(error_of([&] { read(file, DataFormat::completion); }),
            at("a.jsonl", 1) + ": no \"prompt\" field");
}

// The scanner must not be fooled by brackets, commas and quotes inside strings; an error in
// the third element names its line, and nlohmann's own line is the file's.
TEST_F(Examples, JsonArrayLineNumbers) {
  const fs::path good = write("g.json", R"(  [
  {"text": "a, b ] } [ {"},
  {"text": "quote \" and \\ and ]"}, {"text": "nested",
    "extra": [[1, 2], {"k": [3]}]}
  ,
  {"text": "last"}]
)");
  const ReadResult r = read(good);
  ASSERT_EQ(r.examples.size(), 4u);
  EXPECT_EQ(turns(r.examples[0]), (Turns{"assistant:a, b ] } [ {"}));
  EXPECT_EQ(turns(r.examples[1]), (Turns{R"(assistant:quote " and \ and ])"}));
  EXPECT_EQ(r.examples[0].origin, at("g.json", 2));
  EXPECT_EQ(r.examples[1].origin, at("g.json", 3));
  EXPECT_EQ(r.examples[2].origin, at("g.json", 3));
  EXPECT_EQ(r.examples[3].origin, at("g.json", 6));

  const fs::path bad = write("b.json", R"([
  {"text": "one"},
  {"text": "two"},
  {
    "text": "three",
    "oops"
  },
  {"text": "four"}
]
)");
  EXPECT_EQ(error_of([&] { read(bad); }),
            at("b.json", 4) +
                ": invalid JSON: [json.exception.parse_error.101] parse error at line 7, "
                "column 3: syntax error while parsing object separator - unexpected '}'; "
                "expected ':'");
}

TEST_F(Examples, JsonArrayStructureErrors) {
  EXPECT_EQ(
      error_of([&] { read(write("open.json", "[\n{\"text\": \"a\"},\n{\"text\": \"b\"}\n")); }),
      at("open.json", 1) + ": the JSON array that starts here has no closing ']'");
  EXPECT_EQ(error_of([&] { read(write("after.json", "[{\"text\": \"a\"}]\n\nmore")); }),
            at("after.json", 3) + ": unexpected text after the JSON array (it ends before)");
  const ReadResult empty = read(write("empty.json", " [ ] \n"));
  EXPECT_EQ(empty.records, 0);
  EXPECT_TRUE(empty.examples.empty());
  EXPECT_EQ(empty.format, DataFormat::text);
  EXPECT_EQ(empty.detected,
            (dir_ / "empty.json").string() + " has no good record to tell the format from");
  // A stray '}' stays in its element and makes it invalid, not the next one.
  EXPECT_EQ(
      error_of([&] { read(write("brace.json", "[{\"text\": \"a\"}},\n{\"text\": \"b\"}]")); }),
      at("brace.json", 1) +
          ": invalid JSON: [json.exception.parse_error.101] parse error at line 1, column "
          "15: syntax error while parsing value - unexpected '}'; expected end of input");
}

TEST_F(Examples, RenamedFields) {
  const ReadResult alpaca =
      read(write("q.jsonl", R"({"question": "Q", "context": "C", "answer": "A", "output": "x"})"),
           DataFormat::auto_detect,
           {{"instruction", "question"}, {"input", "context"}, {"output", "answer"}});
  EXPECT_EQ(alpaca.format, DataFormat::alpaca);
  EXPECT_EQ(alpaca.detected, at("q.jsonl", 1) +
                                 " has instruction (\"question\"), input (\"context\"), output "
                                 "(\"answer\")");
  ASSERT_EQ(alpaca.examples.size(), 1u);
  // The file's own "output" is not the output: the renaming says "answer" is.
  EXPECT_EQ(turns(alpaca.examples[0]), (Turns{"user:Q|C", "assistant:A"}));

  // LLaMA-Factory's dataset_info: messages=conversations, role_tag=from, content_tag=value.
  const ReadResult chat = read(
      write("d.jsonl",
            R"({"dialog": [{"speaker": "user", "says": "hi"}, {"speaker": "gpt", "says": "yo"}]})"),
      DataFormat::auto_detect, {{"messages", "dialog"}, {"role", "speaker"}, {"content", "says"}});
  EXPECT_EQ(chat.format, DataFormat::chat);
  ASSERT_EQ(chat.examples.size(), 1u);
  EXPECT_EQ(turns(chat.examples[0]), (Turns{"user:hi", "assistant:yo"}));

  const ReadResult sharegpt = read(
      write("s.jsonl", R"({"conversations": [{"from": "human", "value": "hi"},)"
                       R"( {"from": "gpt", "value": "yo"}]})"),
      DataFormat::chat, {{"messages", "conversations"}, {"role", "from"}, {"content", "value"}});
  ASSERT_EQ(sharegpt.examples.size(), 1u);
  EXPECT_EQ(turns(sharegpt.examples[0]), (Turns{"user:hi", "assistant:yo"}));

  const ReadResult from_value =
      read(write("f.jsonl", R"({"conversations": [{"who": "human", "what": "hi"}]})"),
           DataFormat::chat, {{"from", "who"}, {"value", "what"}});
  ASSERT_EQ(from_value.examples.size(), 1u);
  EXPECT_EQ(turns(from_value.examples[0]), (Turns{"user:hi"}));

  // Errors name the field as the file does.
  EXPECT_EQ(error_of([&] {
              read(write("e.jsonl", R"({"question": "Q"})"), DataFormat::alpaca,
                   {{"instruction", "question"}, {"output", "answer"}});
            }),
            at("e.jsonl", 1) + ": no \"answer\" field");
}

TEST_F(Examples, RenamingErrors) {
  const fs::path file = write("t.jsonl", R"({"text": "t"})");
  EXPECT_EQ(error_of([&] {
              read(file, DataFormat::auto_detect, {{"question", "q"}});
            }),
            "fields: \"question\" is not a field name; the names that can be renamed are text, "
            "instruction, input, output, system, history, messages, conversations, tools, "
            "prompt, completion, role, content, from, value");
  EXPECT_EQ(error_of([&] {
              read(file, DataFormat::auto_detect, {{"text", ""}});
            }),
            "fields: \"text\" is renamed to an empty name");
  EXPECT_EQ(error_of([&] {
              read(file, DataFormat::auto_detect, {{"instruction", "q"}, {"prompt", "q"}});
            }),
            "fields: \"instruction\" and \"prompt\" are both renamed to \"q\"");
}

TEST_F(Examples, Detection) {
  struct Case {
    std::string record;
    DataFormat format;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"messages": [{"role": "user", "content": "u"}], "text": "t"})", DataFormat::chat},
           {R"({"conversations": [{"from": "human", "value": "u"}]})", DataFormat::chat},
           {R"({"instruction": "i", "output": "o", "prompt": "p", "completion": "c"})",
            DataFormat::alpaca},
           {R"({"prompt": "p", "completion": "c", "text": "t"})", DataFormat::completion},
           {R"({"prompt": "p", "text": "t"})", DataFormat::text}}) {
    const ReadResult r = read(write("d.jsonl", c.record));
    EXPECT_EQ(r.format, c.format) << c.record;
    EXPECT_EQ(r.examples.size(), 1u) << c.record;
  }
  EXPECT_EQ(jsonl_error("\n{\"question\": \"q\", \"answer\": \"a\"}\n"),
            at("bad.jsonl", 2) +
                ": cannot tell the data format from the record's fields (answer, question): text "
                "needs \"text\", alpaca \"instruction\" and \"output\", chat \"messages\" or "
                "\"conversations\", completion \"prompt\" and \"completion\"; set the format, or "
                "rename the fields");
  EXPECT_NE(jsonl_error("{}").find("fields (none)"), std::string::npos);
}

// Each kind of bad record, with its message and line.
TEST_F(Examples, BadRecords) {
  const std::string ok = "{\"text\": \"fine\"}\n";
  const std::string file = at("bad.jsonl", 2);
  EXPECT_EQ(jsonl_error(ok + "{\"text\": \"a\",}\n"),
            file +
                ": invalid JSON: [json.exception.parse_error.101] parse error at line 2, "
                "column 14: syntax error while parsing object key - unexpected '}'; expected "
                "string literal");
  EXPECT_EQ(jsonl_error(ok + "[1, 2]\n"), file + ": expected a JSON object, found an array");
  EXPECT_EQ(jsonl_error(ok + "{\"txt\": \"a\"}\n"), file + ": no \"text\" field");
  EXPECT_EQ(jsonl_error(ok + "{\"text\": 3}\n"),
            file + ": \"text\" must be a string, found a number");
  EXPECT_EQ(jsonl_error(ok + "{\"text\": \"\"}\n"), file + ": \"text\" is empty");

  const std::string alpaca = "{\"instruction\": \"i\", \"output\": \"o\"}\n";
  EXPECT_EQ(jsonl_error(alpaca + R"({"instruction": "i", "output": ["o"]})"),
            file + ": \"output\" must be a string, found an array");
  EXPECT_EQ(jsonl_error(alpaca + R"({"instruction": "", "output": "o"})"),
            file + ": \"instruction\" is empty");
  EXPECT_EQ(jsonl_error(alpaca + R"({"instruction": "i", "input": 1, "output": "o"})"),
            file + ": \"input\" must be a string, found a number");
  EXPECT_EQ(jsonl_error(alpaca + R"({"instruction": "i", "output": "o", "history": {}})"),
            file + ": \"history\" must be an array of [query, response] pairs, found an object");
  EXPECT_EQ(jsonl_error(alpaca + R"({"instruction": "i", "output": "o", "history": [["q"]]})"),
            file + ": \"history\" item 1 must be a [query, response] pair of strings");
  EXPECT_EQ(
      jsonl_error(alpaca +
                  R"({"instruction": "i", "output": "o", "history": [["q", "a"], ["q", ""]]})"),
      file + ": \"history\" item 2 has an empty response");

  const std::string chat = R"({"messages": [{"role": "user", "content": "u"}]})"
                           "\n";
  EXPECT_EQ(jsonl_error(chat + R"({"messages": []})"), file + ": \"messages\" is an empty list");
  EXPECT_EQ(jsonl_error(chat + R"({"text": "t"})"),
            file + ": no \"messages\" or \"conversations\" field");
  EXPECT_EQ(jsonl_error(chat + R"({"messages": "hi"})"),
            file + ": \"messages\" must be an array of messages, found a string");
  EXPECT_EQ(jsonl_error(chat + R"({"messages": ["hi"]})"),
            file + ": message 1 must be an object, found a string");
  EXPECT_EQ(jsonl_error(chat + R"({"messages": [{"content": "c"}]})"),
            file + ": message 1 has no \"role\" field");
  EXPECT_EQ(jsonl_error(chat + R"({"messages": [{"role": 1, "content": "c"}]})"),
            file + ": message 1: \"role\" must be a string, found a number");
  EXPECT_EQ(
      jsonl_error(
          chat +
          R"({"messages": [{"role": "user", "content": "u"}, {"role": "narrator", "content": "c"}]})"),
      file +
          ": message 2 has an unknown role \"narrator\"; the roles are system, user, "
          "assistant, tool, or ShareGPT's human, gpt, function_call, observation "
          "(function and ipython are also read as tool)");
  EXPECT_EQ(
      jsonl_error(
          chat +
          R"({"conversations": [{"from": "human", "value": "u"}, {"from": "system", "value": "s"}]})"),
      file + ": message 2 is a system message; only the first message may be one");
  EXPECT_EQ(
      jsonl_error(chat + R"({"system": "s", "messages": [{"role": "system", "content": "s"}]})"),
      file + ": message 1 is a system message, but the record already has a \"system\" field");
  EXPECT_EQ(jsonl_error(chat + R"({"messages": [{"role": "user"}]})"),
            file + ": message 1 has no \"content\" field");
  EXPECT_EQ(jsonl_error(chat + R"({"conversations": [{"from": "gpt", "content": "c"}]})"),
            file + ": message 1 has no \"value\" field");
  EXPECT_EQ(jsonl_error(chat + R"({"messages": [{"role": "user", "content": null}]})"),
            file + ": message 1: \"content\" must be a string, found a null");
  EXPECT_EQ(
      jsonl_error(
          chat +
          R"({"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": ""}]})"),
      file + ": message 2 (assistant) has empty content");
  EXPECT_EQ(jsonl_error(chat + R"({"messages": [{"role": "user", "content": "u"}], "tools": 5})"),
            file + ": \"tools\" must be a string, an array or an object, found a number");
  EXPECT_EQ(jsonl_error(chat + R"({"messages": [{"role": "user", "content": "u"}], "system": []})"),
            file + ": \"system\" must be a string, found an array");

  const std::string completion = "{\"prompt\": \"p\", \"completion\": \"c\"}\n";
  EXPECT_EQ(jsonl_error(completion + R"({"prompt": "p"})"), file + ": no \"completion\" field");
  EXPECT_EQ(jsonl_error(completion + R"({"prompt": "", "completion": "c"})"),
            file + ": \"prompt\" is empty");
}

TEST_F(Examples, SkipBadRecordsCountsThem) {
  const fs::path file = write("s.json", R"([
  "not an object",
  {"instruction": "a", "output": "A"},
  {"instruction": "b"},
  {"instruction": "c", "output": "C"} {"x": 1},
  {"instruction": "d", "output": "D"},
  {"instruction": "e", "output": ""}
]
)");
  EXPECT_EQ(error_of([&] { read(file); }),
            at("s.json", 2) + ": expected a JSON object, found a string");
  const ReadResult r = read(file, DataFormat::auto_detect, {}, /*skip=*/true);
  EXPECT_EQ(r.records, 6);
  EXPECT_EQ(r.format, DataFormat::alpaca);
  EXPECT_EQ(r.detected, at("s.json", 3) + " has instruction, output");  // first good record
  ASSERT_EQ(r.examples.size(), 2u);
  EXPECT_EQ(turns(r.examples[0]), (Turns{"user:a", "assistant:A"}));
  EXPECT_EQ(turns(r.examples[1]), (Turns{"user:d", "assistant:D"}));
  EXPECT_EQ(r.examples[1].origin, at("s.json", 6));
  ASSERT_EQ(r.skipped.size(), 4u);
  EXPECT_EQ(r.skipped[0].origin, at("s.json", 2));
  EXPECT_EQ(r.skipped[0].reason, "expected a JSON object, found a string");
  EXPECT_EQ(r.skipped[1].origin, at("s.json", 4));
  EXPECT_EQ(r.skipped[1].reason, "no \"output\" field");
  EXPECT_EQ(r.skipped[2].origin, at("s.json", 5));
  EXPECT_EQ(r.skipped[2].reason.rfind("invalid JSON: ", 0), 0u) << r.skipped[2].reason;
  EXPECT_EQ(r.skipped[3].origin, at("s.json", 7));
  EXPECT_EQ(r.skipped[3].reason, "\"output\" is empty");

  // An undetectable first good record stays an error: the whole file is likely another format.
  EXPECT_NE(error_of([&] {
              read(write("u.jsonl", "{\"a\": 1}\n{\"text\": \"t\"}\n"), DataFormat::auto_detect, {},
                   true);
            }).find("cannot tell the data format"),
            std::string::npos);
}

TEST_F(Examples, UnreadableFile) {
  EXPECT_EQ(error_of([&] { read(dir_ / "missing.json"); }),
            (dir_ / "missing.json").string() + ": cannot open the data file");
  EXPECT_EQ(error_of([&] { read(dir_); }),
            dir_.string() + ": is a directory, expected a data file");
}

// --- LLaMA-Factory's demo datasets -----------------------------------------------------------

const fs::path kLlamaFactory = fs::path(FTENGINE_SHARED_TESTDATA) / "datasets" / "llamafactory";

// Skips the test, naming the file, when ../shared/testdata is absent.
#define FT_NEED_FILE(name)                      \
  const fs::path file = kLlamaFactory / (name); \
  if (!fs::exists(file)) GTEST_SKIP() << "test data absent: " << file.string()

TEST(LlamaFactoryDatasets, Identity) {
  FT_NEED_FILE("identity.json");
  const ReadResult r = read_examples(file, {});
  EXPECT_EQ(r.format, DataFormat::alpaca);
  EXPECT_EQ(r.detected, file.string() + ":2 has instruction, input, output");
  EXPECT_EQ(r.records, 91);
  ASSERT_EQ(r.examples.size(), 91u);
  EXPECT_EQ(turns(r.examples[0]),
            (Turns{"user:hi",
                   "assistant:Hello! I am {{name}}, an AI assistant developed by {{author}}. How "
                   "can I assist you today?"}));
  EXPECT_EQ(r.examples[1].origin, file.string() + ":7");
  for (const Example& e : r.examples) {
    ASSERT_EQ(e.messages.size(), 2u);
    EXPECT_EQ(e.messages[0].input, "");
  }
}

TEST(LlamaFactoryDatasets, AlpacaDemo) {
  FT_NEED_FILE("alpaca_en_demo.json");
  const ReadResult r = read_examples(file, {});
  EXPECT_EQ(r.format, DataFormat::alpaca);
  ASSERT_EQ(r.examples.size(), 999u);
  EXPECT_EQ(r.examples[0].messages[0].content, "Describe a process of making crepes.");
  int with_input = 0;
  for (const Example& e : r.examples) {
    ASSERT_EQ(e.messages.size(), 2u);
    EXPECT_EQ(e.messages[0].role, Role::user);
    EXPECT_EQ(e.messages[1].role, Role::assistant);
    with_input += !e.messages[0].input.empty();
  }
  EXPECT_EQ(with_input, 412);
}

TEST(LlamaFactoryDatasets, GlaiveToolCalls) {
  FT_NEED_FILE("glaive_toolcall_en_demo.json");
  const ReadResult r = read_examples(file, {});
  EXPECT_EQ(r.format, DataFormat::chat);
  EXPECT_EQ(r.detected, file.string() + ":2 has conversations, tools");
  ASSERT_EQ(r.examples.size(), 300u);
  int counts[4] = {0, 0, 0, 0};
  int with_tools = 0;
  for (const Example& e : r.examples) {
    for (const engine::Message& m : e.messages) ++counts[static_cast<int>(m.role)];
    with_tools += !e.tools.empty();
  }
  EXPECT_EQ(counts[static_cast<int>(Role::system)], 0);
  EXPECT_EQ(counts[static_cast<int>(Role::user)], 746);
  EXPECT_EQ(counts[static_cast<int>(Role::assistant)], 746 + 211);  // gpt + function_call
  EXPECT_EQ(counts[static_cast<int>(Role::tool)], 211);
  EXPECT_EQ(with_tools, 191);  // the other 109 records have "tools": "[]"
  EXPECT_EQ(r.examples[0].messages[3].content.rfind("{\"name\": \"search_recipes\"", 0), 0u);
}

TEST(LlamaFactoryDatasets, C4Text) {
  FT_NEED_FILE("c4_demo.jsonl");
  const ReadResult r = read_examples(file, {});
  EXPECT_EQ(r.format, DataFormat::text);
  EXPECT_EQ(r.records, 300);
  ASSERT_EQ(r.examples.size(), 300u);
  EXPECT_EQ(r.examples[299].origin, file.string() + ":300");
  for (const Example& e : r.examples) {
    ASSERT_EQ(e.messages.size(), 1u);
    EXPECT_EQ(e.messages[0].role, Role::assistant);
    EXPECT_FALSE(e.messages[0].content.empty());
  }
}

}  // namespace
}  // namespace ft::testing
