// ftengine-bench-tokenizer: encode throughput of the byte-level BPE tokenizers, one thread.
//
//   build/bin/ftengine-bench-tokenizer [--repeats N] [--text FILE] [--no-peer]
//
// Encodes ../shared/testdata/datasets/text/botchan.txt (278 KB of English prose) with the
// GPT-2 tokenizer (ggml-vocab-gpt-2.gguf) and the Llama 3 tokenizer (tiktoken
// tokenizer.model), in MB/s of input text. "cold": a tokenizer fresh from its file, so its
// word cache starts empty (what a data pipeline sees on its first pass); "warm": the same
// text again with the cache filled. Medians of --repeats runs, against the 5 MB/s target.
// When <source>/.venv has the Hugging Face `tokenizers` package, its single-threaded
// encode of the same text is measured in the same run as the peer (the Llama 3 peer
// tokenizer is converted from the rank file the way transformers' TikTokenConverter does).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/error.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ft::engine::Tokenizer;

constexpr double kTargetMBs = 5.0;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ft::Error(fmt::format("{}: cannot open", path.string()));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

struct Result {
  double cold_mbs = 0, warm_mbs = 0;
  std::size_t tokens = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Result measure(const std::function<Tokenizer()>& load, const std::string& text, int repeats) {
  Result r;
  std::vector<double> cold, warm;
  for (int i = 0; i < repeats; ++i) {
    const Tokenizer t = load();
    auto start = Clock::now();
    r.tokens = t.encode(text, false).size();
    cold.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    start = Clock::now();
    (void)t.encode(text, false);
    warm.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  const double mb = static_cast<double>(text.size()) / 1e6;
  r.cold_mbs = mb / median(cold);
  r.warm_mbs = mb / median(warm);
  return r;
}

// The peer: HF tokenizers (Rust) through Python, one thread, same text, median of runs.
// Prints "gpt2 MBS TOKENS" and "llama3 MBS TOKENS" lines.
constexpr const char* kPeerScript = R"PY(
import base64, os, statistics, sys, time
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer, Regex, models, pre_tokenizers, decoders
gpt2_dir, tiktoken_file, text_file, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
text = open(text_file, encoding="utf-8", newline="").read()  # keep CRLF as it is
mb = len(text.encode("utf-8")) / 1e6

def bench(name, tok):
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); ids = tok.encode(text, add_special_tokens=False).ids
        times.append(time.perf_counter() - t)
    print(name, mb / statistics.median(times), len(ids), flush=True)

gpt2 = Tokenizer(models.BPE.from_file(os.path.join(gpt2_dir, "gpt2_vocab.json"),
                                      os.path.join(gpt2_dir, "gpt2_merges.txt")))
gpt2.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
bench("gpt2", gpt2)

bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256 + n); n += 1
alphabet = dict(zip(bs, map(chr, cs)))
ranks = {}
for line in open(tiktoken_file, "rb"):
    if line.strip():
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
as_text = lambda b: "".join(alphabet[x] for x in b)
vocab, merges = {}, []
for token, rank in ranks.items():
    vocab[as_text(token)] = rank
    local = [(token[:i], token[i:], rank) for i in range(1, len(token))
             if token[:i] in ranks and token[i:] in ranks]
    merges += sorted(local, key=lambda m: (ranks[m[0]], ranks[m[1]]))
merges.sort(key=lambda m: m[2])
llama3 = Tokenizer(models.BPE(vocab, [(as_text(a), as_text(b)) for a, b, _ in merges],
                              ignore_merges=True))
llama3.pre_tokenizer = pre_tokenizers.Sequence([
    pre_tokenizers.Split(Regex(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
                         behavior="isolated"),
    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
bench("llama3", llama3)
)PY";

std::map<std::string, std::pair<double, std::size_t>> run_peer(const fs::path& python,
                                                               const fs::path& gpt2_dir,
                                                               const fs::path& tiktoken,
                                                               const fs::path& text, int repeats) {
  std::map<std::string, std::pair<double, std::size_t>> out;
  const fs::path script = fs::temp_directory_path() / "ftengine-tokenizer-peer.py";
  std::ofstream(script) << kPeerScript;
  const std::string command =
      fmt::format("'{}' '{}' '{}' '{}' '{}' {} 2>/dev/null", python.string(), script.string(),
                  gpt2_dir.string(), tiktoken.string(), text.string(), repeats);
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char name[32];
    double mbs = 0;
    std::size_t tokens = 0;
    while (std::fscanf(pipe, "%31s %lf %zu", name, &mbs, &tokens) == 3) out[name] = {mbs, tokens};
    pclose(pipe);
  }
  fs::remove(script);
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  const fs::path source = FTENGINE_SOURCE_DIR;
  const fs::path testdata = source / "../shared/testdata";
  fs::path text_path = testdata / "datasets/text/botchan.txt";
  int repeats = 5;
  bool peer = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repeats" && i + 1 < argc)
      repeats = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--text" && i + 1 < argc)
      text_path = argv[++i];
    else if (arg == "--no-peer")
      peer = false;
    else {
      fmt::print(stderr, "usage: {} [--repeats N] [--text FILE] [--no-peer]\n", argv[0]);
      return 2;
    }
  }
  const fs::path gpt2_gguf = testdata / "tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf";
  const fs::path llama3_model = testdata / "tokenizers/llama3-tiktoken/tokenizer.model";
  const std::string text = read_file(text_path);

  fmt::print("machine: {}, 1 thread; {} ({} bytes); medians of {} runs\n\n", cpu_model(),
             text_path.filename().string(), text.size(), repeats);
  const Result gpt2 = measure([&] { return Tokenizer::from_gguf(gpt2_gguf); }, text, repeats);
  const Result llama3 =
      measure([&] { return Tokenizer::from_tiktoken(llama3_model, "llama3"); }, text, repeats);

  std::map<std::string, std::pair<double, std::size_t>> peers;
  const fs::path python = source / ".venv/bin/python";
  if (peer && fs::exists(python))
    peers = run_peer(python, testdata / "tokenizers/gpt2", llama3_model, text_path, repeats);

  fmt::print("{:<28} {:>9} {:>9} {:>10} {:>11} {:>11} {:>9}\n", "encode (one thread)", "MB/s",
             "tokens", "vs 5 MB/s", "HF MB/s", "HF tokens", "vs HF");
  auto row = [&](const std::string& what, const std::string& key, double mbs, std::size_t tokens) {
    std::string peer_mbs = "n/a", peer_tokens = "n/a", ratio = "n/a";
    if (auto it = peers.find(key); it != peers.end()) {
      peer_mbs = fmt::format("{:.2f}", it->second.first);
      peer_tokens = fmt::format("{}", it->second.second);
      ratio = fmt::format("{:.2f}x", mbs / it->second.first);
    }
    fmt::print("{:<28} {:>9.2f} {:>9} {:>9.1f}x {:>11} {:>11} {:>9}\n", what, mbs, tokens,
               mbs / kTargetMBs, peer_mbs, peer_tokens, ratio);
  };
  row("GPT-2 (GGUF), cold cache", "gpt2", gpt2.cold_mbs, gpt2.tokens);
  row("GPT-2 (GGUF), warm cache", "gpt2", gpt2.warm_mbs, gpt2.tokens);
  row("Llama 3 (tiktoken), cold", "llama3", llama3.cold_mbs, llama3.tokens);
  row("Llama 3 (tiktoken), warm", "llama3", llama3.warm_mbs, llama3.tokens);
  if (peers.empty())
    fmt::print("\n(no peer: {} with the `tokenizers` package not found or --no-peer)\n",
               python.string());
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "ftengine-bench-tokenizer: {}\n", e.what());
  return 1;
}
