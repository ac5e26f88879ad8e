// Writing a Hugging Face model directory (io/model_dir.hpp).
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/io/model_dir.hpp"
#include "ftengine/io/safetensors.hpp"
#include "ftengine/model.hpp"
#include "ftengine/ops.hpp"

namespace ft::io {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot read", path.string()));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// config.json's name for a dtype, as torch spells it.
std::string torch_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "float32";
    case DType::bf16:
      return "bfloat16";
    case DType::f16:
      return "float16";
    default:
      throw Error(
          fmt::format("write_model_directory: model weights are written as f32, bf16 "
                      "or f16, not {}",
                      dtype_name(dtype)));
  }
}

// Weights already in out_dir would mix with the new ones (a stale shard next to a new
// single file); refusing is safer than deleting a user's files.
void require_no_weights(const fs::path& out_dir) {
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return;
  for (const fs::directory_entry& entry : fs::directory_iterator(out_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".safetensors" || name == "model.safetensors.index.json")
      throw Error(
          fmt::format("{}: already holds model weights ({}); write the model into an "
                      "empty directory",
                      out_dir.string(), name));
  }
}

std::string config_with_dtype(const fs::path& base_model_dir, DType dtype) {
  const fs::path path = base_model_dir / "config.json";
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
  if (!config.is_object()) throw Error(fmt::format("{}: expected a JSON object", path.string()));
  config["torch_dtype"] = torch_dtype_name(dtype);
  if (config.contains("dtype")) config["dtype"] = torch_dtype_name(dtype);
  return config.dump(2) + "\n";
}

}  // namespace

const std::vector<std::string>& model_directory_companion_files() {
  static const std::vector<std::string> files = {"generation_config.json", "tokenizer.json",
                                                 "tokenizer_config.json", "special_tokens_map.json",
                                                 "tokenizer.model"};
  return files;
}

void write_model_directory(const Model& model, const fs::path& base_model_dir,
                           const fs::path& out_dir, DType dtype, std::uint64_t max_shard_bytes) {
  std::error_code ec;
  if (fs::exists(out_dir, ec) && fs::equivalent(out_dir, base_model_dir, ec))
    throw Error(fmt::format("{}: is the base model's directory; write the model elsewhere",
                            out_dir.string()));
  const std::string config = config_with_dtype(base_model_dir, dtype);
  require_no_weights(out_dir);
  fs::create_directories(out_dir);

  // Weights first: a directory with a config but no weights is less misleading than the
  // reverse, should writing fail half-way.
  std::vector<Tensor> converted;  // keeps the converted copies alive until written
  std::vector<SafetensorsEntry> entries;
  std::set<std::string> names;
  {
    NoGrad no_grad;
    for (const Parameter& p : model.parameters()) {
      if (!names.insert(p.name).second)
        throw InternalError(
            fmt::format("write_model_directory: the model lists parameter "
                        "\"{}\" twice",
                        p.name));
      const Tensor& t = p.tensor;
      converted.push_back(t.dtype() == dtype || !is_floating(t.dtype()) ? t : ops::cast(t, dtype));
      entries.push_back(SafetensorsEntry::from_tensor(p.name, converted.back()));
    }
  }
  write_sharded_safetensors(out_dir, entries, max_shard_bytes, {{"format", "pt"}});

  write_file_atomic(out_dir / "config.json", config);
  for (const std::string& name : model_directory_companion_files()) {
    const fs::path source = base_model_dir / name;
    if (fs::is_regular_file(source, ec)) write_file_atomic(out_dir / name, read_text(source));
  }
}

}  // namespace ft::io
