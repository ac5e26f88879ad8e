// Reading and packing text documents, checked token by token with the byte tokenizer.
#include "engine/data/text_dataset.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "unit/data/data_test_util.hpp"

namespace ft::engine {
namespace {

using ft::testing::byte_id;
using Ids = std::vector<std::int32_t>;
constexpr std::int32_t kBos = kByteTokenizerBos, kEos = kByteTokenizerEos, kNo = kIgnoreTarget;

class TextDataset : public ft::testing::DataTest {};

std::vector<TextDocument> docs(std::initializer_list<const char*> texts) {
  std::vector<TextDocument> out;
  for (const char* t : texts) out.push_back({t, "test"});
  return out;
}

TEST_F(TextDataset, TwoDocumentsAreCutIntoRowsWithTheirTargets) {
  // Stream: BOS a b EOS | BOS c d e EOS, 9 tokens, cut into rows of 4.
  const TokenizedRows r = pack_documents(docs({"ab", "cde"}), byte_tokenizer(), 4);
  const std::int32_t a = byte_id('a'), b = byte_id('b'), c = byte_id('c'), d = byte_id('d'),
                     e = byte_id('e');
  EXPECT_EQ(r.seq_len, 4);
  EXPECT_EQ(r.documents, 2);
  EXPECT_EQ(r.tokens, 9);
  EXPECT_EQ(r.target_tokens, 7);  // every token but each document's EOS
  ASSERT_EQ(r.rows.size(), 3u);

  EXPECT_EQ(r.rows[0].tokens, (Ids{kBos, a, b, kEos}));
  EXPECT_EQ(r.rows[0].targets, (Ids{a, b, kEos, kNo}));  // EOS is learnt, predicts nothing
  EXPECT_EQ(r.rows[0].positions, (Ids{0, 1, 2, 3}));
  EXPECT_EQ(r.rows[0].doc_ids, (Ids{0, 0, 0, 0}));

  // The last target lies in the next row: carried, not lost.
  EXPECT_EQ(r.rows[1].tokens, (Ids{kBos, c, d, e}));
  EXPECT_EQ(r.rows[1].targets, (Ids{c, d, e, kEos}));
  EXPECT_EQ(r.rows[1].positions, (Ids{0, 1, 2, 3}));
  EXPECT_EQ(r.rows[1].doc_ids, (Ids{1, 1, 1, 1}));

  // The last row: the EOS, then padding.
  EXPECT_EQ(r.rows[2].tokens, (Ids{kEos, 0, 0, 0}));
  EXPECT_EQ(r.rows[2].targets, (Ids{kNo, kNo, kNo, kNo}));
  EXPECT_EQ(r.rows[2].positions, (Ids{0, 0, 0, 0}));
  EXPECT_EQ(r.rows[2].doc_ids, (Ids{1, -1, -1, -1}));
}

TEST_F(TextDataset, PositionsRestartAtDocumentAndRowStarts) {
  // Stream: BOS a b c d e f EOS | BOS g EOS, 11 tokens, rows of 5.
  const TokenizedRows r = pack_documents(docs({"abcdef", "g"}), byte_tokenizer(), 5);
  const auto id = [](char ch) { return byte_id(ch); };
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].tokens, (Ids{kBos, id('a'), id('b'), id('c'), id('d')}));
  EXPECT_EQ(r.rows[0].targets, (Ids{id('a'), id('b'), id('c'), id('d'), id('e')}));
  EXPECT_EQ(r.rows[0].positions, (Ids{0, 1, 2, 3, 4}));

  // The first document goes on in row 1 from position 0: row 0 is out of its sight.
  EXPECT_EQ(r.rows[1].tokens, (Ids{id('e'), id('f'), kEos, kBos, id('g')}));
  EXPECT_EQ(r.rows[1].targets, (Ids{id('f'), kEos, kNo, id('g'), kEos}));
  EXPECT_EQ(r.rows[1].positions, (Ids{0, 1, 2, 0, 1}));
  EXPECT_EQ(r.rows[1].doc_ids, (Ids{0, 0, 0, 1, 1}));

  EXPECT_EQ(r.rows[2].tokens, (Ids{kEos, 0, 0, 0, 0}));
  EXPECT_EQ(r.rows[2].targets, (Ids{kNo, kNo, kNo, kNo, kNo}));
  EXPECT_EQ(r.rows[2].doc_ids, (Ids{1, -1, -1, -1, -1}));
  EXPECT_EQ(r.tokens, 11);
  EXPECT_EQ(r.target_tokens, 9);
}

TEST_F(TextDataset, AStreamThatFillsTheRowsExactlyHasNoPadding) {
  // BOS a EOS | BOS b EOS: 6 tokens, rows of 3.
  const TokenizedRows r = pack_documents(docs({"a", "b"}), byte_tokenizer(), 3);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[1].tokens, (Ids{kBos, byte_id('b'), kEos}));
  EXPECT_EQ(r.rows[1].doc_ids, (Ids{1, 1, 1}));
  EXPECT_EQ(r.rows[0].targets, (Ids{byte_id('a'), kEos, kNo}));
}

TEST_F(TextDataset, FollowsTheTokenizersBosAndEosSettings) {
  // No BOS: a document starts with its text; its first token is never a target.
  TokenizedRows r = pack_documents(docs({"ab", "c"}), byte_tokenizer(false, false), 8);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].tokens, (Ids{byte_id('a'), byte_id('b'), kEos, byte_id('c'), kEos, 0, 0, 0}));
  EXPECT_EQ(r.rows[0].targets, (Ids{byte_id('b'), kEos, kNo, kEos, kNo, kNo, kNo, kNo}));
  EXPECT_EQ(r.rows[0].positions, (Ids{0, 1, 2, 0, 1, 0, 0, 0}));

  // A tokenizer that appends EOS itself does not get a second one.
  r = pack_documents(docs({"ab"}), byte_tokenizer(true, true), 8);
  EXPECT_EQ(r.rows[0].tokens, (Ids{kBos, byte_id('a'), byte_id('b'), kEos, 0, 0, 0, 0}));
  EXPECT_EQ(r.tokens, 4);
}

TEST_F(TextDataset, SpecialTokensInTheTextAreParsed) {
  // As Hugging Face tokenizers do by default: "<|end_of_text|>" in a text is the EOS id.
  const TokenizedRows r = pack_documents(docs({"a<|end_of_text|>"}), byte_tokenizer(), 4);
  EXPECT_EQ(r.rows[0].tokens, (Ids{kBos, byte_id('a'), kEos, 0}));
}

TEST_F(TextDataset, RefusesWhatCannotTrain) {
  const Tokenizer tok = byte_tokenizer();
  EXPECT_EQ(error_of([&] { pack_documents(docs({"abc"}), tok, 1); }),
            "seq_len must be at least 2, found 1");
  EXPECT_EQ(error_of([&] { pack_documents({}, tok, 8); }),
            "nothing to train on: 0 document(s) give no token to predict");
}

TEST_F(TextDataset, ReadsJsonLinesAndTextFiles) {
  const auto jsonl =
      write("a.jsonl", "{\"text\": \"first\"}\n\n  \n{\"text\": \"x\\ny\", \"id\": 3}\n");
  const auto txt = write("b.txt", "whole\nfile\n");
  const std::vector<TextDocument> d = read_text_documents({jsonl, txt});
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].text, "first");
  EXPECT_EQ(d[0].origin, jsonl.string() + ":1");
  EXPECT_EQ(d[1].text, "x\ny");
  EXPECT_EQ(d[1].origin, jsonl.string() + ":4");  // blank lines count
  EXPECT_EQ(d[2].text, "whole\nfile\n");
  EXPECT_EQ(d[2].origin, txt.string());

  // Another field name.
  const auto other = write("c.jsonl", "{\"body\": \"b\"}\n");
  EXPECT_EQ(read_text_documents({other}, "body")[0].text, "b");
}

TEST_F(TextDataset, BadRecordsNameFileAndLine) {
  const std::string ok = "{\"text\": \"fine\"}\n";
  const auto error = [&](const std::string& name, const std::string& content) {
    const auto file = write(name, content);
    return error_of([&] { read_text_documents({file}); });
  };
  const std::string d = dir_.string() + "/";
  EXPECT_EQ(error("a.jsonl", ok + "{\"text\": \"cut\n").rfind(d + "a.jsonl:2: invalid JSON (", 0),
            0u);
  EXPECT_EQ(error("b.jsonl", "[1, 2]\n"),
            d + "b.jsonl:1: expected a JSON object per line, found an array");
  EXPECT_EQ(error("c.jsonl", ok + ok + "{\"body\": \"x\"}\n"),
            d + "c.jsonl:3: the record has no \"text\" field");
  EXPECT_EQ(error("d.jsonl", "{\"text\": 42}\n"),
            d + "d.jsonl:1: \"text\" must be a string, found a number");
  EXPECT_EQ(error("e.jsonl", ok + "{\"text\": null}\n"),
            d + "e.jsonl:2: \"text\" must be a string, found a null");
  EXPECT_EQ(error("f.jsonl", "{\"text\": \"\"}\n"),
            d + "f.jsonl:1: \"text\" is empty; give the record some text or remove the line");
  EXPECT_EQ(error("g.txt", ""), d + "g.txt: the data file is empty");
  EXPECT_EQ(error_of([&] { read_text_documents({dir_ / "missing.jsonl"}); }),
            d + "missing.jsonl: no such data file");
  // A JSON array file (Alpaca style) says so.
  const std::string array = error("h.json", "[\n  {\"text\": \"a\"}\n]\n");
  EXPECT_NE(array.find("h.json:1: invalid JSON"), std::string::npos) << array;
  EXPECT_NE(array.find("this looks like a JSON array"), std::string::npos) << array;
}

}  // namespace
}  // namespace ft::engine
