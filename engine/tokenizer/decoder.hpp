// Token pieces -> text: HF tokenizers' decoders, the ones Llama-family BPE tokenizers use.
//
//   byte-level (GPT-2, Llama 3, Qwen2):  pieces are raw bytes already (converted at load),
//                                        so ByteLevel only joins them
//   SentencePiece-style (Llama 2):       Sequence[Replace("▁", " "), ByteFallback, Fuse,
//                                        Strip(" ", 1, 0)], or the older Metaspace decoder
//
// The result is made valid UTF-8 at the end (one U+FFFD per invalid subpart), as HF's
// String results are. ByteFallback turns a run of <0xNN> pieces that is not valid UTF-8
// into one U+FFFD per byte, as HF does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ft::engine::tok {

class Decoder {
 public:
  struct Step {
    enum class Kind { replace, byte_fallback, fuse, strip, metaspace } kind;
    std::string from, to;   // replace: from -> to; strip, metaspace: from is the character
    std::size_t start = 0;  // strip: at most this many leading `from` characters per piece
    std::size_t stop = 0;   // strip: ... and trailing
    bool prepend = true;    // metaspace: the first piece lost its replacement characters
  };

  void add(Step step) { steps_.push_back(std::move(step)); }

  // Joined, decoded text of `pieces`.
  std::string decode(std::vector<std::string> pieces) const;

  // The text of one piece on its own, with no stripping and byte pieces as raw bytes (may
  // be part of a UTF-8 character): what a streaming decoder appends per token.
  std::string piece_text(std::string_view piece) const;

  // How many leading spaces the full decode removes from the start of the text (Strip's
  // start; 1 for Metaspace with a prepend scheme). Streaming removes the same.
  std::size_t leading_spaces_stripped() const;

 private:
  std::vector<Step> steps_;
};

// The byte a "<0xNN>" piece stands for, or -1.
int byte_fallback_value(std::string_view piece);

}  // namespace ft::engine::tok
