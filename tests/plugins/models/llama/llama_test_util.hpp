// Shared by the llama tests: the plugins (found in the build tree by the real registry), a
// model directory that tests can take apart and write back, and small host helpers.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/model_init/model_init.hpp"
#include "engine/plugins/registry.hpp"
#include "ftengine/autograd.hpp"
#include "ftengine/io/safetensors.hpp"
#include "ftengine/model.hpp"
#include "ftengine/ops.hpp"
#include "tests/sdk/io/test_util.hpp"

namespace ft::testing {

namespace fs = std::filesystem;

inline const fs::path kStoriesDir =
    fs::path(FTENGINE_SHARED_TESTDATA) / "models" / "stories260K-hf";

#define REQUIRE_STORIES()                                                         \
  if (!std::filesystem::exists(::ft::testing::kStoriesDir / "model.safetensors")) \
  GTEST_SKIP() << "test data absent: " << ::ft::testing::kStoriesDir.string()

// The CPU backend and llama model plugins, as the engine finds them.
class Plugins {
 public:
  static Plugins& get() {
    static Plugins plugins;
    return plugins;
  }
  Backend& backend() { return *backend_; }
  std::unique_ptr<Model> model() { return registry_.create_model("llama"); }

 private:
  Plugins() {
    registry_.scan({FTENGINE_BUILD_PLUGIN_DIR});
    backend_ = registry_.create_backend("cpu");
  }
  engine::PluginRegistry registry_;
  std::unique_ptr<Backend> backend_;
};

inline Backend& backend() { return Plugins::get().backend(); }

inline std::unique_ptr<Model> load_model(const fs::path& dir, DType dtype = DType::f32) {
  std::unique_ptr<Model> model = Plugins::get().model();
  ModelLoadOptions options;
  options.path = dir;
  options.dtype = dtype;
  model->load(options, backend());
  return model;
}

// `init-model`'s directory, laid out by the llama plugin.
inline engine::RandomModel write_random_model(std::string_view preset, const fs::path& dir,
                                              std::uint64_t seed, DType dtype = DType::f32) {
  return engine::write_random_model(*Plugins::get().model(), preset, dir, seed, dtype);
}

inline nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

inline Tensor ids_tensor(const std::vector<std::int32_t>& ids) {
  return Tensor::from_ints(ids, {1, static_cast<std::int64_t>(ids.size())}, backend());
}

inline std::int32_t argmax(const float* row, std::int64_t n) {
  return static_cast<std::int32_t>(std::max_element(row, row + n) - row);
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0.0f;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// A model directory in memory: config.json and every tensor, in file order, as f32.
struct ModelFiles {
  nlohmann::json config;
  std::vector<std::pair<std::string, Tensor>> tensors;

  static ModelFiles read(const fs::path& dir) {
    ModelFiles m;
    m.config = read_json(dir / "config.json");
    const io::SafetensorsCheckpoint ckpt = io::SafetensorsCheckpoint::open(dir);
    for (const io::SafetensorsFile& file : ckpt.files())
      for (const io::SafetensorsTensorInfo& t : file.tensors())
        m.tensors.emplace_back(t.name, file.load(t, backend(), DType::f32));
    return m;
  }
  Tensor* find(const std::string& name) {
    for (auto& [n, t] : tensors)
      if (n == name) return &t;
    return nullptr;
  }
  void erase(const std::string& name) {
    std::erase_if(tensors, [&](const auto& e) { return e.first == name; });
  }
  void set(const std::string& name, Tensor t) {
    if (Tensor* existing = find(name))
      *existing = std::move(t);
    else
      tensors.emplace_back(name, std::move(t));
  }
  // Writes config.json and the weights (as `dtype`; sharded when over max_shard_bytes).
  void write(const fs::path& dir, DType dtype = DType::f32,
             std::uint64_t max_shard_bytes = std::uint64_t{1} << 40) const {
    fs::create_directories(dir);
    io::write_file_atomic(dir / "config.json", config.dump(2));
    std::vector<io::SafetensorsEntry> entries;
    for (const auto& [name, t] : tensors)
      entries.push_back(io::SafetensorsEntry::from_tensor(
          name, t.dtype() == dtype || !is_floating(t.dtype()) ? t : ops::cast(t, dtype)));
    io::write_sharded_safetensors(dir, entries, max_shard_bytes, {{"format", "pt"}});
  }
};

}  // namespace ft::testing
