// Shared by the tokenizer tests: test data paths, llama.cpp's .inp/.out vector files,
// and scratch directories for tokenizer.json fixtures.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ft::engine::test {

inline std::filesystem::path shared_testdata() { return FTENGINE_SHARED_TESTDATA; }

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// One llama.cpp vector: the text and the expected ids (no BOS/EOS).
struct Vector {
  std::string text;
  std::vector<std::int32_t> ids;
};

// `.inp`: strings each followed by "\n__ggml_vocab_test__\n"; `.out`: one line of
// space-separated ids per string (see testdata/tokenizers/llama.cpp-vocab/PROVENANCE.md).
inline std::vector<Vector> read_vectors(const std::filesystem::path& inp,
                                        const std::filesystem::path& out) {
  const std::string separator = "\n__ggml_vocab_test__\n";
  const std::string input = read_file(inp);
  std::vector<Vector> vectors;
  for (std::size_t at = 0;;) {
    const std::size_t end = input.find(separator, at);
    if (end == std::string::npos) break;  // the tail after the last separator is empty
    vectors.push_back({input.substr(at, end - at), {}});
    at = end + separator.size();
  }
  std::istringstream lines(read_file(out));
  std::string line;
  for (Vector& v : vectors) {
    if (!std::getline(lines, line)) break;
    std::istringstream ids(line);
    for (std::int32_t id; ids >> id;) v.ids.push_back(id);
  }
  return vectors;
}

// A fresh directory under the system temp dir, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("ftengine-tokenizer-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::string ids_text(const std::vector<std::int32_t>& ids) {
  std::string s;
  for (std::int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

}  // namespace ft::engine::test
