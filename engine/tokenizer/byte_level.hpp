// GPT-2's byte <-> unicode alphabet. Byte-level BPE vocabularies (GPT-2, Llama 3, Qwen2 in
// HF tokenizer.json and GGUF) write every token as a string of 256 printable stand-in
// characters, one per byte: printable Latin-1 bytes stand for themselves, the other 68
// bytes are shifted to U+0100.. in byte order (space -> "Ġ" U+0120, newline -> "Ċ" U+010A).
// This is `bytes_to_unicode()` of openai/gpt-2 encoder.py, which HF tokenizers' ByteLevel
// reproduces. ftengine keeps byte-level tokens as raw bytes internally and converts at load.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ft::engine::tok {

// The stand-in character (UTF-8) for one byte.
std::string_view byte_to_unicode(unsigned char byte);

// Raw bytes of a token written in the stand-in alphabet; nullopt when `text` has a
// character outside it (added tokens such as "<|endoftext|>" are inside it; a token that
// is not keeps its own UTF-8 bytes, as HF's ByteLevel decoder does).
std::optional<std::string> unicode_to_bytes(std::string_view text);

// The stand-in form of raw bytes (inverse of unicode_to_bytes).
std::string bytes_to_unicode(std::string_view bytes);

}  // namespace ft::engine::tok
