// Tokenizers of Llama-family models: text <-> token ids, as the model was trained with.
//
//   auto tok = ft::engine::Tokenizer::from_directory("models/stories260K-hf");
//   std::vector<std::int32_t> ids = tok.encode("Once upon a time");   // [1, 403, ...]
//   std::string text = tok.decode(ids, /*skip_special=*/true);
//
// Sources, all byte-pair encoding (BPE):
//   - from_directory / from_hf_json: Hugging Face tokenizer.json (+ tokenizer_config.json
//     for bos/eos and add_bos_token): byte-level BPE (GPT-2, Llama 3, Qwen2) and
//     SentencePiece-style BPE (Llama 2, Mistral, TinyLlama: byte fallback, "▁" for space);
//   - from_gguf: the tokenizer stored in a GGUF file (tokenizer.ggml.*);
//   - from_tiktoken: a tiktoken rank file (Llama 3's original tokenizer.model).
// Other model types (Unigram, WordPiece, WordLevel) are refused by name.
//
// encode matches added and special tokens in the text ("<|eot_id|>" becomes its id) as HF
// tokenizers does, unless parse_special is false; with add_special it adds what the model
// expects around a sequence (BOS per add_bos_token). A Tokenizer is a cheap handle to an
// immutable vocabulary: copy it freely and use it from several threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ft::engine {

namespace tok {
struct TokenizerModel;
}

class Tokenizer {
 public:
  // tokenizer.json, and tokenizer_config.json when the directory has one.
  static Tokenizer from_directory(const std::filesystem::path& dir);
  // `config`: a tokenizer_config.json, or empty for none.
  static Tokenizer from_hf_json(const std::filesystem::path& tokenizer_json,
                                const std::filesystem::path& config = {});
  static Tokenizer from_gguf(const std::filesystem::path& gguf);
  // `family` names the pre-tokenizer regex and special tokens the rank file lacks:
  // "llama3" (Llama 3 / 3.1 / 3.2 base ranks, Llama 3 specials from 128000).
  static Tokenizer from_tiktoken(const std::filesystem::path& rank_file,
                                 std::string_view family = "llama3");

  std::vector<std::int32_t> encode(std::string_view text, bool add_special = true,
                                   bool parse_special = true) const;
  // Text given in consecutive parts (a chat template's pieces), encoded as their
  // concatenation would be with add_special false, except that no token crosses a part
  // boundary: out[k] are part k's tokens, so a loss mask can follow the parts exactly.
  // Text that continues plain text from the part before gets no prefix space or "▁";
  // after an added token, or at the start, it does, as in encode(). Where the
  // pre-tokenizer already splits at each boundary (a template's usual "\n" or special
  // token), the concatenated result equals encode(concatenation, false).
  std::vector<std::vector<std::int32_t>> encode_parts(
      const std::vector<std::string_view>& parts) const;
  // Invalid UTF-8 (a sequence cut in the middle of a character) comes out as U+FFFD.
  std::string decode(const std::vector<std::int32_t>& ids, bool skip_special = false) const;

  // The text one token stands for on its own: raw bytes, possibly part of a UTF-8
  // character; no leading-space stripping. StreamDecoder assembles these.
  std::string token_text(std::int32_t id) const;

  std::int32_t vocab_size() const;
  std::optional<std::int32_t> bos_id() const;
  std::optional<std::int32_t> eos_id() const;
  // A token by its vocabulary string ("<|eot_id|>", "Ġthe", "▁the"); nullopt if absent.
  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  bool is_special(std::int32_t id) const;
  // "gpt2", "llama3", "qwen2", "byte-level-bpe" or "sentencepiece-bpe".
  const std::string& family() const;

  explicit Tokenizer(std::shared_ptr<const tok::TokenizerModel> model);
  // The vocabulary, merges and settings as loaded: what the GGUF export writes.
  const tok::TokenizerModel& model() const { return *model_; }

 private:
  friend class StreamDecoder;
  void check_id(std::int32_t id) const;
  std::shared_ptr<const tok::TokenizerModel> model_;
};

// Decodes tokens as they arrive (generation), giving out text only once it is complete
// UTF-8: a character split over several byte-fallback or byte-level tokens comes out
// whole with the token that completes it. Concatenating what push() and finish() return
// equals decode() of all the tokens (for text that decodes to valid UTF-8).
class StreamDecoder {
 public:
  explicit StreamDecoder(Tokenizer tokenizer, bool skip_special = false);
  // The text that became complete with this token (often empty or one word).
  std::string push(std::int32_t id);
  // What is left: an unfinished character comes out as U+FFFD.
  std::string finish();

 private:
  Tokenizer tokenizer_;
  bool skip_special_;
  std::string pending_;     // bytes of an unfinished character
  std::size_t strip_left_;  // leading spaces the decoder still strips
  bool started_ = false;    // some text has come out
};

}  // namespace ft::engine
