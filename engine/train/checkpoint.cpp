#include "engine/train/checkpoint.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "ftengine/error.hpp"
#include "ftengine/io/safetensors.hpp"

namespace ft::engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kStepPrefix = "step-";
constexpr std::string_view kTmpPrefix = ".tmp-step-";
constexpr int kStateFormat = 1;

// N of "step-N", or nothing for any other name.
std::optional<std::int64_t> step_of(const std::string& name) {
  if (!name.starts_with(kStepPrefix)) return std::nullopt;
  std::int64_t step = 0;
  const char* first = name.data() + kStepPrefix.size();
  const char* last = name.data() + name.size();
  const auto [end, ec] = std::from_chars(first, last, step);
  if (ec != std::errc() || end != last || first == last) return std::nullopt;
  return step;
}

// Makes a directory's entries (new files, renames) durable.
void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw Error(fmt::format("{}: cannot open the directory to sync it", dir.string()));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error(fmt::format("{}: fsync failed", dir.string()));
}

std::vector<io::SafetensorsEntry> entries_of(const std::vector<Parameter>& parameters) {
  std::vector<io::SafetensorsEntry> entries;
  for (const Parameter& p : parameters)
    entries.push_back(io::SafetensorsEntry::from_tensor(p.name, p.tensor));
  return entries;
}

nlohmann::ordered_json state_json(const TrainerState& s) {
  return {{"format", kStateFormat},
          {"step", s.step},
          {"total_steps", s.total_steps},
          {"epoch", s.cursor.epoch},
          {"row_in_epoch", s.cursor.index},
          {"micro_batch", s.micro_batch},
          {"seed", s.seed},
          {"train_rows", s.train_rows},
          {"tokens", s.tokens},
          {"elapsed_s", s.elapsed_s},
          {"job_hash", s.job_hash}};
}

}  // namespace

fs::path checkpoints_dir(const fs::path& run_dir) { return run_dir / "checkpoints"; }

std::vector<Checkpoint> list_checkpoints(const fs::path& run_dir) {
  std::vector<Checkpoint> out;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(checkpoints_dir(run_dir), ec)) {
    const std::optional<std::int64_t> step = step_of(entry.path().filename().string());
    if (step && fs::is_regular_file(entry.path() / kTrainerStateFile))
      out.push_back({*step, entry.path()});
  }
  std::sort(out.begin(), out.end(),
            [](const Checkpoint& a, const Checkpoint& b) { return a.step < b.step; });
  return out;
}

void write_checkpoint(const fs::path& run_dir, const TrainerState& state,
                      const std::vector<Parameter>& trainable,
                      const std::vector<Parameter>& optimizer_state, std::string_view job_toml) {
  const fs::path parent = checkpoints_dir(run_dir);
  const fs::path tmp = parent / fmt::format("{}{}", kTmpPrefix, state.step);
  const fs::path final_dir = parent / fmt::format("{}{}", kStepPrefix, state.step);
  fs::create_directories(parent);
  fs::remove_all(tmp);
  fs::create_directory(tmp);

  // Each writer below syncs its file before renaming it into place.
  const std::map<std::string, std::string> metadata{{"step", std::to_string(state.step)}};
  io::write_safetensors(tmp / kTrainableFile, entries_of(trainable), metadata);
  io::write_safetensors(tmp / kOptimizerFile, entries_of(optimizer_state), metadata);
  io::write_file_atomic(tmp / kCheckpointJobFile, job_toml);
  io::write_file_atomic(tmp / kTrainerStateFile, state_json(state).dump(2) + "\n");
  fsync_directory(tmp);

  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);
  fsync_directory(parent);
}

void prune_checkpoints(const fs::path& run_dir, std::int64_t keep) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(checkpoints_dir(run_dir), ec))
    if (entry.path().filename().string().starts_with(kTmpPrefix)) fs::remove_all(entry.path());
  if (keep <= 0) return;
  const std::vector<Checkpoint> all = list_checkpoints(run_dir);
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < all.size(); ++i)
    fs::remove_all(all[i].dir);
}

TrainerState read_trainer_state(const fs::path& checkpoint_dir) {
  const fs::path path = checkpoint_dir / kTrainerStateFile;
  std::ifstream in(path);
  if (!in)
    throw Error(fmt::format("{}: cannot read the checkpoint's trainer state", path.string()));
  try {
    const json j = json::parse(in);
    if (j.at("format").get<int>() != kStateFormat)
      throw Error(fmt::format("{}: trainer state format {} is not the {} this build reads",
                              path.string(), j.at("format").get<int>(), kStateFormat));
    TrainerState s;
    s.step = j.at("step").get<std::int64_t>();
    s.total_steps = j.at("total_steps").get<std::int64_t>();
    s.cursor = {j.at("epoch").get<std::int64_t>(), j.at("row_in_epoch").get<std::int64_t>()};
    s.micro_batch = j.at("micro_batch").get<std::uint64_t>();
    s.seed = j.at("seed").get<std::uint64_t>();
    s.train_rows = j.at("train_rows").get<std::int64_t>();
    s.tokens = j.at("tokens").get<std::int64_t>();
    s.elapsed_s = j.at("elapsed_s").get<double>();
    s.job_hash = j.at("job_hash").get<std::string>();
    return s;
  } catch (const json::exception& e) {
    throw Error(
        fmt::format("{}: not a trainer state this build reads: {}", path.string(), e.what()));
  }
}

void load_checkpoint_tensors(const fs::path& file, const std::vector<Parameter>& live) {
  const io::SafetensorsFile saved(file);
  const std::string name = file.string();
  if (saved.tensors().size() != live.size())
    throw Error(
        fmt::format("{}: holds {} tensors, this run has {}: the checkpoint is from another "
                    "adapter or optimizer setup",
                    name, saved.tensors().size(), live.size()));
  for (const Parameter& p : live) {
    const io::SafetensorsTensorInfo* info = saved.find(p.name);
    if (!info)
      throw Error(
          fmt::format("{}: no tensor \"{}\": the checkpoint is from another adapter or "
                      "optimizer setup",
                      name, p.name));
    const std::string_view dtype = io::safetensors_dtype_name(p.tensor.dtype());
    if (info->shape != p.tensor.shape() || info->dtype != dtype)
      throw Error(fmt::format("{}: tensor \"{}\" is {} {}, this run's is {} {}", name, p.name,
                              info->dtype, shape_str(info->shape), dtype,
                              shape_str(p.tensor.shape())));
    p.tensor.copy_from_host(saved.data(*info));
  }
}

}  // namespace ft::engine
