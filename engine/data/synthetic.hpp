// Datasets the project generates itself, so the quickstart and benchmarks need no download.
//
//   SyntheticDataset d = make_synthetic_dataset("quickstart", 0);   // d.train, d.val
//   write_synthetic_dataset("quickstart", "data/quickstart", 0);    // train.jsonl, val.jsonl
//
// "quickstart": short English sentences from a small grammar with strong regularities
// (each animal has one colour, sound and home; counting runs; a few fixed facts), a few
// sentences per line. Most bytes follow from the last few, so a tiny random-init Llama
// with a byte-level tokenizer learns it fast: in PyTorch (bench/torch/quickstart_reference.py)
// the validation loss falls from 5.5 to 2.3 in 60 full fine-tuning steps, and to 3.6 in 400
// LoRA steps (LoRA cannot move the random lm_head, which caps it near 3). 2000 train lines,
// 200 validation lines, none of which appears among the train lines.
// Everything is drawn from Philox keyed by the seed: a seed gives the same files anywhere.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ft::engine {

struct SyntheticDataset {
  std::vector<std::string> train;  // one document (text) each
  std::vector<std::string> val;
};

// The preset names ("quickstart").
const std::vector<std::string>& synthetic_dataset_presets();

// ft::Error listing the presets when `preset` is not one.
SyntheticDataset make_synthetic_dataset(std::string_view preset, std::uint64_t seed);

struct WrittenDataset {
  std::filesystem::path dir;
  std::vector<std::filesystem::path> files;  // train.jsonl, val.jsonl
  std::int64_t train_lines = 0;
  std::int64_t val_lines = 0;
};

// Writes out_dir/train.jsonl and out_dir/val.jsonl, one {"text": ...} per line. out_dir is
// created; an existing non-empty directory is refused (ft::Error), so nothing is
// overwritten by accident.
WrittenDataset write_synthetic_dataset(std::string_view preset,
                                       const std::filesystem::path& out_dir, std::uint64_t seed);

}  // namespace ft::engine
