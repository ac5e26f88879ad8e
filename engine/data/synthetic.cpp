#include "engine/data/synthetic.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "engine/model_init/output_dir.hpp"
#include "ftengine/error.hpp"
#include "ftengine/io/safetensors.hpp"
#include "ftengine/philox.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kTrainLines = 2000;
constexpr std::int64_t kValLines = 200;

// Draws from Philox keyed by the seed, one counter per draw: the sequence depends on the
// seed alone.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : seed_(seed) {}
  std::size_t below(std::size_t n) {
    const Philox4x32 r = philox4x32(counter_++, seed_);
    return static_cast<std::size_t>(((static_cast<std::uint64_t>(r.v[1]) << 32) | r.v[0]) % n);
  }
  template <typename T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }

 private:
  std::uint64_t seed_;
  std::uint64_t counter_ = 0;
};

// Fixed pairings are what makes the text learnable: the animal decides the rest.
struct Animal {
  const char* name;
  const char* plural;
  const char* colour;
  const char* sound;
  const char* home;
};
constexpr std::array<Animal, 9> kAnimals = {{
    {"fox", "foxes", "red", "yip", "den"},
    {"dog", "dogs", "brown", "woof", "house"},
    {"cat", "cats", "black", "meow", "house"},
    {"cow", "cows", "white", "moo", "barn"},
    {"duck", "ducks", "yellow", "quack", "pond"},
    {"frog", "frogs", "green", "croak", "pond"},
    {"sheep", "sheep", "grey", "baa", "field"},
    {"bird", "birds", "blue", "tweet", "nest"},
    {"pig", "pigs", "pink", "oink", "barn"},
}};
constexpr std::array<const char*, 12> kNames = {"Anna",  "Ben",  "Clara", "David", "Emma", "Finn",
                                                "Grace", "Jack", "Lily",  "Max",   "Nora", "Sam"};
constexpr std::array<const char*, 5> kThings = {"ball", "hat", "kite", "cup", "box"};
constexpr std::array<const char*, 6> kColours = {"red",    "blue",  "green",
                                                 "yellow", "black", "white"};
constexpr std::array<const char*, 11> kNumbers = {"zero", "one",   "two",   "three", "four", "five",
                                                  "six",  "seven", "eight", "nine",  "ten"};
constexpr std::array<const char*, 4> kFacts = {"The sky is blue.", "The grass is green.",
                                               "The sun is hot.", "The snow is cold."};

std::string sentence(Draw& draw) {
  const Animal& a = draw.pick(kAnimals);
  switch (draw.below(8)) {
    case 0: {
      const Animal& b = draw.pick(kAnimals);
      return fmt::format("The {} {} jumps over the lazy {}.", a.colour, a.name, b.name);
    }
    case 1:
      return fmt::format("The {} says {}.", a.name, a.sound);
    case 2:
      return fmt::format("Where is the {}? The {} is in the {}.", a.name, a.name, a.home);
    case 3: {
      const std::size_t n = 2 + draw.below(8);
      return fmt::format("{} sees {} {} {}.", draw.pick(kNames), kNumbers[n], a.colour, a.plural);
    }
    case 4: {
      const std::size_t from = 1 + draw.below(5), count = 3 + draw.below(3);
      std::vector<const char*> run(kNumbers.begin() + from, kNumbers.begin() + from + count);
      return fmt::format("{} counts {}.", draw.pick(kNames), fmt::join(run, ", "));
    }
    case 5: {
      const std::size_t n = draw.below(10);
      return fmt::format("{} and one make {}.", kNumbers[n], kNumbers[n + 1]);
    }
    case 6:
      return fmt::format("{} likes the {} {}.", draw.pick(kNames), draw.pick(kColours),
                         draw.pick(kThings));
    default:
      return draw.pick(kFacts);
  }
}

// Two to four sentences: long enough to pack, short enough to keep many documents.
std::string document(Draw& draw) {
  std::string text = sentence(draw);
  for (std::size_t n = 1 + draw.below(3); n > 0; --n) {
    text += ' ';
    text += sentence(draw);
  }
  // Sentences start in upper case; "zero and one make one." does not.
  if (text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 'a' + 'A');
  return text;
}

SyntheticDataset quickstart(std::uint64_t seed) {
  Draw draw(seed);
  SyntheticDataset d;
  std::unordered_set<std::string> train_texts;
  for (std::int64_t i = 0; i < kTrainLines; ++i) {
    d.train.push_back(document(draw));
    train_texts.insert(d.train.back());
  }
  // Held-out lines are new combinations, so val loss measures the grammar, not memory.
  while (static_cast<std::int64_t>(d.val.size()) < kValLines) {
    std::string text = document(draw);
    if (!train_texts.count(text)) d.val.push_back(std::move(text));
  }
  return d;
}

std::string jsonl(const std::vector<std::string>& texts) {
  std::string out;
  for (const std::string& text : texts) out += nlohmann::json{{"text", text}}.dump() + "\n";
  return out;
}

}  // namespace

const std::vector<std::string>& synthetic_dataset_presets() {
  static const std::vector<std::string> presets = {"quickstart"};
  return presets;
}

SyntheticDataset make_synthetic_dataset(std::string_view preset, std::uint64_t seed) {
  if (preset == "quickstart") return quickstart(seed);
  throw Error(fmt::format("unknown dataset preset \"{}\"; presets: {}", preset,
                          fmt::join(synthetic_dataset_presets(), ", ")));
}

WrittenDataset write_synthetic_dataset(std::string_view preset, const fs::path& out_dir,
                                       std::uint64_t seed) {
  const SyntheticDataset data = make_synthetic_dataset(preset, seed);
  create_empty_directory(out_dir, "init-data");

  WrittenDataset out;
  out.dir = out_dir;
  io::write_file_atomic(out_dir / "train.jsonl", jsonl(data.train));
  io::write_file_atomic(out_dir / "val.jsonl", jsonl(data.val));
  out.files = {out_dir / "train.jsonl", out_dir / "val.jsonl"};
  out.train_lines = static_cast<std::int64_t>(data.train.size());
  out.val_lines = static_cast<std::int64_t>(data.val.size());
  return out;
}

}  // namespace ft::engine
