#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "engine/config/job.hpp"
#include "engine/config/schema.hpp"

namespace ft::engine {

namespace {

std::string join_paths(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::string> text;
  for (const auto& p : paths) text.push_back(p.string());
  return fmt::format("{}", fmt::join(text, ", "));
}

// A key, quoted when it is not a bare key.
std::string toml_key(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (bare) return std::string(key);
  std::ostringstream out;
  out << toml::toml_formatter(toml::value<std::string>(std::string(key)));
  return out.str();
}

std::string extra_keys(const toml::table& extra) {
  std::vector<std::string> keys;
  for (auto&& [k, v] : extra) keys.emplace_back(k.str());
  if (keys.empty()) return {};
  return fmt::format(" (plugin keys: {})", fmt::join(keys, ", "));
}

// A TOML value; floats in their shortest exact form (0.05, not 0.050000000000000003).
std::string toml_value(const toml::node& node) {
  if (auto f = node.as_floating_point()) {
    const double v = f->get();
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::string text = fmt::format("{}", v);
    if (text.find_first_of(".eE") == std::string::npos) text += ".0";
    return text;
  }
  if (auto a = node.as_array()) {
    std::vector<std::string> items;
    for (const toml::node& element : *a) items.push_back(toml_value(element));
    return fmt::format("[{}]", fmt::join(items, ", "));
  }
  if (auto t = node.as_table()) {
    std::vector<std::string> items;
    for (auto&& [k, v] : *t)
      items.push_back(fmt::format("{} = {}", toml_key(k.str()), toml_value(v)));
    return fmt::format("{{ {} }}", fmt::join(items, ", "));
  }
  // Strings, integers, booleans, dates: toml++ writes them exactly.
  std::ostringstream out;
  node.visit([&out](const auto& n) { out << toml::toml_formatter(n); });
  return out.str();
}

}  // namespace

std::string resolved_toml(const Job& job) {
  std::string out;
  for (const schema::Section& section : schema::sections()) {
    const toml::table* table = job.resolved.get_as<toml::table>(section.name);
    if (!table) continue;
    out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", section.name);
    for (const schema::Key& key : section.keys)
      if (const toml::node* v = table->get(key.name))
        out += fmt::format("{} = {}\n", key.name, toml_value(*v));
    for (auto&& [k, v] : *table)
      if (!section.find(k.str())) out += fmt::format("{} = {}\n", toml_key(k.str()), toml_value(v));
  }
  return out;
}

std::string job_summary(const Job& job) {
  std::string out;
  auto line = [&out](std::string_view label, const std::string& text) {
    out += fmt::format("  {:<10} {}\n", label, text);
  };

  line("job", job.name);
  line("model", fmt::format("{} {} ({})", job.model.plugin, job.model.path.string(),
                            job.model.dtype == DType::bf16 ? "bf16" : "f32"));

  const AdapterConfig& a = job.adapter;
  std::string adapter = a.plugin;
  if (a.plugin == "lora" || a.plugin == "qlora") {
    adapter += fmt::format(" r={} alpha={} dropout={}{} on {}", a.r, a.alpha, a.dropout,
                           a.use_rslora ? " rslora" : "", fmt::join(a.target_modules, ","));
    if (a.plugin == "qlora")
      adapter += fmt::format(", base in {} blocks of {}{}", to_string(a.quant_type), a.block_size,
                             a.double_quant ? " (double-quantised)" : "");
  } else if (a.plugin == "full") {
    adapter += a.freeze.empty() ? " (every weight trains)"
                                : fmt::format(" (frozen: {})", fmt::join(a.freeze, ", "));
  } else {
    adapter += extra_keys(a.extra);
  }
  line("adapter", adapter);

  const OptimizerConfig& o = job.optimizer;
  std::string optimizer = fmt::format("{} lr={}", o.plugin, o.lr);
  if (o.plugin == "adamw")
    optimizer += fmt::format(" betas=[{}, {}] eps={}", o.betas[0], o.betas[1], o.eps);
  if (o.plugin == "sgd")
    optimizer += fmt::format(" momentum={}{}", o.momentum, o.nesterov ? " nesterov" : "");
  optimizer += fmt::format(" weight_decay={}", o.weight_decay);
  if (o.plugin != "adamw" && o.plugin != "sgd") optimizer += extra_keys(o.extra);
  line("optimizer", optimizer);

  const ScheduleConfig& s = job.schedule;
  line("schedule", fmt::format("{}, warmup {}, min_lr_ratio={}", to_string(s.kind),
                               s.warmup_ratio ? fmt::format("{} of the steps", *s.warmup_ratio)
                                              : fmt::format("{} steps", s.warmup_steps),
                               s.min_lr_ratio));

  const DataConfig& d = job.data;
  std::string data = d.train.empty() ? std::string("(no training data)") : join_paths(d.train);
  data += fmt::format(" format={} seq_len={}{}", to_string(d.format), d.seq_len,
                      !d.packing   ? ""
                      : *d.packing ? " packed"
                                   : " unpacked");
  if (d.eval) data += fmt::format(", eval {}", d.eval->string());
  if (d.val_split > 0) data += fmt::format(", val_split={}", d.val_split);
  line("data", data);

  const TrainConfig& t = job.train;
  line("train", fmt::format("{} batch_size={} grad_accum={} grad_clip={} seed={} precision={}",
                            t.max_steps ? fmt::format("max_steps={}", *t.max_steps)
                                        : fmt::format("epochs={}", t.epochs),
                            t.batch_size, t.grad_accum, t.grad_clip, t.seed, t.precision));
  line("backend", job.backend.threads > 0
                      ? fmt::format("{} threads={}", job.backend.plugin, job.backend.threads)
                      : job.backend.plugin);
  line("output", job.output.dir.string());
  return out;
}

}  // namespace ft::engine
