// A model's weights as one safetensors file or as shards listed by an index, and the refusal
// of pickle checkpoints.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "ftengine/error.hpp"
#include "ftengine/io/safetensors.hpp"
#include "io_safetensors_internal.hpp"

namespace ft::io {

namespace fs = std::filesystem;

namespace detail {

std::string pickle_refusal(const fs::path& path) {
  const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
  const std::string dir_str = dir.empty() ? std::string(".") : dir.string();
  return fmt::format(
      "{}: PyTorch pickle checkpoints are not loaded, because unpickling can run arbitrary code. "
      "Convert the model to safetensors first, e.g. python -c \"from transformers import "
      "AutoModelForCausalLM as M; M.from_pretrained('{}').save_pretrained('OUT', "
      "safe_serialization=True)\"",
      path.string(), dir_str);
}

}  // namespace detail

namespace {

bool is_pickle_name(const fs::path& p) {
  const std::string ext = p.extension().string();
  const std::string name = p.filename().string();
  return ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".ckpt" ||
         name == "pytorch_model.bin.index.json";
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const fs::path& path) {
  SafetensorsCheckpoint ckpt;
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(fmt::format("{}: no such file or directory", path.string()));

  fs::path single;
  fs::path index;
  if (fs::is_directory(path)) {
    if (fs::exists(path / "model.safetensors.index.json")) {
      index = path / "model.safetensors.index.json";
    } else if (fs::exists(path / "model.safetensors")) {
      single = path / "model.safetensors";
    } else {
      std::vector<fs::path> safetensors, pickles;
      for (const fs::path& f : files_in(path)) {
        if (f.extension() == ".safetensors") safetensors.push_back(f);
        if (is_pickle_name(f)) pickles.push_back(f);
      }
      if (safetensors.size() == 1) {
        single = safetensors.front();
      } else if (safetensors.size() > 1) {
        std::vector<std::string> names;
        for (const fs::path& f : safetensors) names.push_back(f.filename().string());
        throw Error(
            fmt::format("{}: several .safetensors files ({}) and no "
                        "model.safetensors.index.json saying which tensor is where",
                        path.string(), fmt::join(names, ", ")));
      } else if (!pickles.empty()) {
        throw Error(detail::pickle_refusal(pickles.front()));
      } else {
        throw Error(
            fmt::format("{}: no model weights: expected model.safetensors or "
                        "model.safetensors.index.json",
                        path.string()));
      }
    }
  } else if (is_pickle_name(path)) {
    throw Error(detail::pickle_refusal(path));
  } else if (path.extension() == ".json") {
    index = path;
  } else {
    single = path;
  }

  if (!single.empty()) {
    ckpt.source_ = single;
    ckpt.files_.emplace_back(single);
    for (const SafetensorsTensorInfo& t : ckpt.files_.front().tensors())
      ckpt.file_index_.emplace(t.name, 0);
    return ckpt;
  }

  // Sharded: the index's weight_map says which shard holds each tensor, and the shards must
  // hold exactly those tensors.
  ckpt.source_ = index;
  const std::string label = index.string();
  const nlohmann::json j = read_json(index);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error(fmt::format("{}: expected an object with a \"weight_map\" object", label));
  std::map<std::string, std::size_t> shard_of_file;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw Error(fmt::format("{}: weight_map[\"{}\"] must be a file name, found {}", label,
                              it.key(), it.value().type_name()));
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || fs::path(shard).filename() != fs::path(shard) || shard == "..")
      throw Error(
          fmt::format("{}: weight_map[\"{}\"] names \"{}\": a shard must be a file next "
                      "to the index",
                      label, it.key(), shard));
    auto [pos, inserted] = shard_of_file.emplace(shard, ckpt.files_.size());
    if (inserted) {
      const fs::path shard_path = index.parent_path() / shard;
      if (!fs::exists(shard_path))
        throw Error(fmt::format("{}: tensor \"{}\" is in shard {}, which does not exist", label,
                                it.key(), shard_path.string()));
      ckpt.files_.emplace_back(shard_path);
    }
    const SafetensorsFile& file = ckpt.files_[pos->second];
    if (!file.find(it.key()))
      throw Error(fmt::format("{}: tensor \"{}\" is listed in shard {}, which does not hold it",
                              label, it.key(), file.path().string()));
    ckpt.file_index_.emplace(it.key(), pos->second);
  }
  for (const SafetensorsFile& file : ckpt.files_) {
    for (const SafetensorsTensorInfo& t : file.tensors()) {
      const auto listed = ckpt.file_index_.find(t.name);
      if (listed == ckpt.file_index_.end())
        throw Error(fmt::format("{}: shard {} holds tensor \"{}\", which the index does not list",
                                label, file.path().string(), t.name));
      if (&ckpt.files_[listed->second] != &file)
        throw Error(fmt::format("{}: tensor \"{}\" is in shard {} and also in shard {}", label,
                                t.name, ckpt.files_[listed->second].path().string(),
                                file.path().string()));
    }
  }
  return ckpt;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(file_index_.size());
  for (const auto& [name, file] : file_index_) out.push_back(name);
  return out;
}

const SafetensorsTensorInfo* SafetensorsCheckpoint::find(std::string_view name) const {
  const auto it = file_index_.find(name);
  return it == file_index_.end() ? nullptr : files_[it->second].find(name);
}

const SafetensorsFile& SafetensorsCheckpoint::file_of(std::string_view name) const {
  const auto it = file_index_.find(name);
  if (it == file_index_.end())
    throw Error(fmt::format("{}: no tensor \"{}\"", source_.string(), name));
  return files_[it->second];
}

Tensor SafetensorsCheckpoint::load(std::string_view name, Backend& backend,
                                   std::optional<DType> dtype) const {
  return file_of(name).load(name, backend, dtype);
}

}  // namespace ft::io
