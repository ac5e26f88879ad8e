// Shared by the data tests: a scratch directory and the tiny preset's byte-level tokenizer.
//
// The byte tokenizer uses GPT-2's byte ids, so printable ASCII byte b is id b - 33
// ('a' = 64, 'b' = 65, ...), and BOS = 256, EOS = 257 (add_bos_token true).
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/model_init/model_init.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/error.hpp"
#include "support/errors.hpp"

namespace ft::testing {

// Id of a printable ASCII character in the byte-level tokenizer.
constexpr std::int32_t byte_id(char c) { return static_cast<std::int32_t>(c) - 33; }

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("ftengine-data-{}-{}-{}", ::getpid(), info->test_suite_name(), info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }

  // The byte tokenizer, with tokenizer_config.json's add_bos_token / add_eos_token as given.
  engine::Tokenizer byte_tokenizer(bool add_bos = true, bool add_eos = false) const {
    const std::filesystem::path dir =
        dir_ / fmt::format("tokenizer-{}{}", int{add_bos}, int{add_eos});
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "tokenizer.json") << engine::byte_tokenizer_json();
    nlohmann::json config = nlohmann::json::parse(engine::byte_tokenizer_config_json(2048));
    config["add_bos_token"] = add_bos;
    config["add_eos_token"] = add_eos;
    std::ofstream(dir / "tokenizer_config.json") << config.dump();
    return engine::Tokenizer::from_directory(dir);
  }

  std::filesystem::path dir_;
};

}  // namespace ft::testing
