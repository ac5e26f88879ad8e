// ftengine-bench-generate: greedy generation speed with the key/value cache against recomputing
// the whole sequence for every token, on the bench-125m preset, in one run.
//
//   build/bin/ftengine-bench-generate [--threads N] [--context N] [--new-tokens N]
//                                     [--recompute-tokens N] [--repeats N] [--model DIR]
//
// A random bench-125m model (write_random_model, seed 1) is written to a temporary directory
// (or --model DIR is used) and loaded through the plugin registry on the CPU backend. The
// prompt is `context - new_tokens` random token ids; then new_tokens tokens are generated
// greedily, the last one at position context - 1.
//   KV cache:  decode(prompt) (the prefill, whose logits give the first token), then one
//              decode({token}) per further token.
//   recompute: logits() over the prompt (the prefill), then for each further token logits()
//              over the whole sequence so far, taking the last row (under ft::NoGrad).
// Per-token figures are over the tokens after the first (the first comes from the prefill).
// The recompute path is fed the prefix the cached path generated, and its argmax at every step
// is checked against the cached path's token. By default it runs every step (about 4 s a run
// on 2 cores); --recompute-tokens N keeps only its last N - 1 steps (the longest contexts,
// ending at `context`), so both paths are still timed near the same context lengths. Medians
// of --repeats runs. A "cpu share" line says whether other processes took the cores.
#include <fmt/format.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/model_init/model_init.hpp"
#include "engine/plugins/registry.hpp"
#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/model.hpp"
#include "ftengine/ops.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::int32_t argmax(const std::vector<float>& row) {
  return static_cast<std::int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

// Gap between the best and second-best logit: how close a greedy choice was to a tie.
float top2_gap(const std::vector<float>& row) {
  float first = -INFINITY, second = -INFINITY;
  for (float v : row) {
    if (v > first) {
      second = first;
      first = v;
    } else if (v > second) {
      second = v;
    }
  }
  return first - second;
}

// A temporary model directory, removed at exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           fmt::format("ftengine-bench-generate-{}", std::random_device{}());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct CachedRun {
  double prefill_s = 0;
  std::vector<double> step_s;  // one per token after the first
  std::vector<std::int32_t> tokens;
  std::vector<std::vector<float>> logits;  // the logits each token was chosen from
};

struct RecomputeRun {
  double prefill_s = 0;
  std::vector<double> step_s;
  std::vector<std::pair<std::int64_t, std::int32_t>> tokens;  // (index, argmax)
  std::vector<std::vector<float>> logits;
};

CachedRun run_cached(ft::Model& model, const std::vector<std::int32_t>& prompt,
                     std::int64_t new_tokens) {
  CachedRun r;
  auto state = model.begin_decode(static_cast<std::int64_t>(prompt.size()) + new_tokens);
  auto start = Clock::now();
  std::vector<float> logits = model.decode(*state, prompt).to_vector();
  r.prefill_s = seconds_since(start);
  r.tokens.push_back(argmax(logits));
  r.logits.push_back(std::move(logits));
  for (std::int64_t i = 1; i < new_tokens; ++i) {
    start = Clock::now();
    logits = model.decode(*state, {r.tokens.back()}).to_vector();
    r.step_s.push_back(seconds_since(start));
    r.tokens.push_back(argmax(logits));
    r.logits.push_back(std::move(logits));
  }
  return r;
}

std::vector<float> last_row(ft::Model& model, ft::Backend& backend,
                            const std::vector<std::int32_t>& seq) {
  ft::NoGrad no_grad;
  const auto n = static_cast<std::int64_t>(seq.size());
  ft::ModelInput input;
  input.tokens = ft::Tensor::from_ints(seq, {1, n}, backend);
  const ft::Tensor all = model.logits(input);  // [1, n, vocab]
  const std::int64_t vocab = all.shape().back();
  return ft::ops::narrow(ft::ops::reshape(all, {n, vocab}), n - 1, 1).to_vector();
}

// Step 0 over the prompt, then steps new_tokens - recompute_tokens + 1 .. new_tokens - 1, each
// over the prompt and the tokens the cached path generated before it.
RecomputeRun run_recompute(ft::Model& model, ft::Backend& backend,
                           const std::vector<std::int32_t>& prompt,
                           const std::vector<std::int32_t>& generated,
                           std::int64_t recompute_tokens) {
  RecomputeRun r;
  auto start = Clock::now();
  std::vector<float> logits = last_row(model, backend, prompt);
  r.prefill_s = seconds_since(start);
  r.tokens.emplace_back(0, argmax(logits));
  r.logits.push_back(std::move(logits));
  const auto new_tokens = static_cast<std::int64_t>(generated.size());
  for (std::int64_t i = std::max<std::int64_t>(1, new_tokens - recompute_tokens + 1);
       i < new_tokens; ++i) {
    std::vector<std::int32_t> seq = prompt;
    seq.insert(seq.end(), generated.begin(), generated.begin() + i);
    start = Clock::now();
    logits = last_row(model, backend, seq);
    r.step_s.push_back(seconds_since(start));
    r.tokens.emplace_back(i, argmax(logits));
    r.logits.push_back(std::move(logits));
  }
  return r;
}

// CPU seconds this process has used (all threads).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

}  // namespace

int main(int argc, char** argv) try {
  int threads = 0, repeats = 3;
  std::int64_t context = 256, new_tokens = 32, recompute_tokens = -1;
  fs::path model_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--threads" && has_value)
      threads = std::atoi(argv[++i]);
    else if (arg == "--repeats" && has_value)
      repeats = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--context" && has_value)
      context = std::atoll(argv[++i]);
    else if (arg == "--new-tokens" && has_value)
      new_tokens = std::atoll(argv[++i]);
    else if (arg == "--recompute-tokens" && has_value)
      recompute_tokens = std::atoll(argv[++i]);
    else if (arg == "--model" && has_value)
      model_dir = argv[++i];
    else {
      fmt::print(stderr,
                 "usage: {} [--threads N] [--context N] [--new-tokens N] [--recompute-tokens N] "
                 "[--repeats N] [--model DIR]\n",
                 argv[0]);
      return 2;
    }
  }
  if (threads < 0) throw ft::Error("--threads must be >= 0");
  if (new_tokens < 2 || context <= new_tokens)
    throw ft::Error(
        fmt::format("need 2 <= --new-tokens < --context, found {} and {}", new_tokens, context));
  if (recompute_tokens < 0) recompute_tokens = new_tokens;
  recompute_tokens = std::clamp<std::int64_t>(recompute_tokens, 2, new_tokens);
  const std::int64_t prompt_len = context - new_tokens;

  ft::engine::PluginRegistry registry;
  registry.scan(ft::engine::plugin_search_path({}, {}));
  TempDir temp;
  std::string model_desc;
  if (model_dir.empty()) {
    model_dir = temp.path;
    const auto start = Clock::now();
    const ft::engine::RandomModel m =
        ft::engine::write_random_model(*registry.create_model("llama"), "bench-125m", model_dir, 1);
    model_desc = fmt::format(
        "bench-125m, random (seed 1), {:.1f}M parameters, f32; written in "
        "{:.1f} s",
        static_cast<double>(m.parameters) / 1e6, seconds_since(start));
  } else {
    model_desc = model_dir.string();
  }

  std::unique_ptr<ft::Backend> backend = registry.create_backend("cpu");
  backend->configure(ft::Options("backend").set("threads", static_cast<std::int64_t>(threads)));
  std::unique_ptr<ft::Model> model = registry.create_model("llama");
  auto start = Clock::now();
  model->load({.path = model_dir, .dtype = ft::DType::f32, .quantize_linear = std::nullopt},
              *backend);
  const double load_s = seconds_since(start);
  const ft::ModelInfo info = model->info();
  if (context > info.max_position_embeddings)
    throw ft::Error(fmt::format("--context {} exceeds the model's {} positions", context,
                                info.max_position_embeddings));

  fmt::print("machine: {}, {}\n", cpu_model(), backend->probe().device_name);
  fmt::print("model: {}; loaded in {:.1f} s ({} layers, hidden {}, vocab {})\n", model_desc, load_s,
             info.num_layers, info.hidden_size, info.vocab_size);
  fmt::print(
      "greedy generation at context {}: prompt of {} random ids, {} new tokens; "
      "medians of {} runs\n",
      context, prompt_len, new_tokens, repeats);
  if (recompute_tokens < new_tokens)
    fmt::print(
        "recompute path: timed over its last {} steps only (contexts {}..{}), fed the cached "
        "path's prefix; --recompute-tokens {} for all\n",
        recompute_tokens - 1, context - recompute_tokens + 1, context - 1, new_tokens);
  fmt::print("\n");

  std::mt19937 rng(1234);
  std::uniform_int_distribution<std::int32_t> pick(0,
                                                   static_cast<std::int32_t>(info.vocab_size) - 1);
  std::vector<std::int32_t> prompt(static_cast<std::size_t>(prompt_len));
  for (auto& t : prompt) t = pick(rng);

  // Warm-up: first-touch of the weights and of the allocator's cache, oneDNN primitive setup.
  {
    auto state = model->begin_decode(prompt_len + 2);
    (void)model->decode(*state, prompt);
    (void)model->decode(*state, {0});
    (void)last_row(*model, *backend, prompt);
  }

  std::vector<double> c_prefill, c_step, r_prefill, r_step;
  const double cpu_start = cpu_seconds();
  const auto wall_start = Clock::now();
  std::int64_t compared = 0, mismatches = 0, first_mismatch = -1;
  float mismatch_gap = 0, max_diff = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    const CachedRun cached = run_cached(*model, prompt, new_tokens);
    const RecomputeRun recomputed =
        run_recompute(*model, *backend, prompt, cached.tokens, recompute_tokens);
    c_prefill.push_back(cached.prefill_s);
    c_step.push_back(mean(cached.step_s));
    r_prefill.push_back(recomputed.prefill_s);
    r_step.push_back(mean(recomputed.step_s));
    for (std::size_t k = 0; k < recomputed.tokens.size(); ++k) {
      const auto [index, token] = recomputed.tokens[k];
      const std::vector<float>& a = cached.logits[static_cast<std::size_t>(index)];
      const std::vector<float>& b = recomputed.logits[k];
      for (std::size_t v = 0; v < a.size(); ++v)
        max_diff = std::max(max_diff, std::abs(a[v] - b[v]));
      ++compared;
      if (token != cached.tokens[static_cast<std::size_t>(index)]) {
        ++mismatches;
        if (first_mismatch < 0) {
          first_mismatch = index;
          mismatch_gap = top2_gap(a);
        }
      }
    }
  }

  // The threads spin while they wait, so a share well under 100% means other processes took
  // the cores (a shared machine), and the times are not the machine's.
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const int cores = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  const int used_threads = threads > 0 ? threads : cores;  // what set_threads(0) takes
  const double cpu_share = (cpu_seconds() - cpu_start) / seconds_since(wall_start) / used_threads;
  const double cp = median(c_prefill), cs = median(c_step), rp = median(r_prefill),
               rs = median(r_step);
  // End to end: prefill plus every further token, as a caller generating new_tokens sees it.
  const double steps = static_cast<double>(new_tokens - 1);
  const double c_total = cp + steps * cs, r_total = rp + steps * rs;
  fmt::print("{:<24} {:>12} {:>14} {:>12} {:>14}\n", "bench-125m, f32", "prefill ms", "ms / token",
             "tokens/s", "end-to-end t/s");
  auto row = [&](const std::string& what, double prefill, double step, double total,
                 const std::vector<double>& runs) {
    const auto [lo, hi] = std::minmax_element(runs.begin(), runs.end());
    fmt::print("{:<24} {:>12.1f} {:>14.2f} {:>12.2f} {:>14.2f} {:>18}\n", what, prefill * 1e3,
               step * 1e3, 1.0 / step, static_cast<double>(new_tokens) / total,
               fmt::format("{:.1f}..{:.1f}", *lo * 1e3, *hi * 1e3));
  };
  row("KV cache (decode)", cp, cs, c_total, c_step);
  row("recompute (logits)", rp, rs, r_total, r_step);
  fmt::print("{:<24} {:>11.2f}x {:>13.1f}x {:>11.1f}x {:>13.1f}x\n", "KV cache speed-up", rp / cp,
             rs / cs, rs / cs, r_total / c_total);
  fmt::print(
      "\n(prefill: {} prompt tokens in one call; ms / token and tokens/s: the {} tokens after the "
      "first{}; end-to-end: {} tokens including the prefill{})\n",
      prompt_len, new_tokens - 1,
      recompute_tokens < new_tokens
          ? fmt::format(", recompute over its {} timed steps", recompute_tokens - 1)
          : "",
      new_tokens, recompute_tokens < new_tokens ? ", recompute extrapolated" : "");
  fmt::print("cpu share: the timed runs got {:.0f}% of {} threads{}\n", cpu_share * 100,
             used_threads,
             cpu_share < 0.85 ? " -- WARNING: other processes competed for the cores, the "
                                "figures are not this machine's"
                              : "");
  if (mismatches == 0)
    fmt::print("sanity: greedy tokens agree at all {} compared steps (max |logit diff| {:.2e})\n",
               compared, max_diff);
  else
    fmt::print(
        "WARNING: greedy tokens differ at {} of {} compared steps (first at token {}, whose "
        "top-2 logit gap was {:.2e}; max |logit diff| {:.2e})\n",
        mismatches, compared, first_mismatch, mismatch_gap, max_diff);
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "ftengine-bench-generate: {}\n", e.what());
  return 1;
}
