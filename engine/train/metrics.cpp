#include "engine/train/metrics.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ftengine/error.hpp"

namespace ft::engine {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;  // keys in the order written

namespace {

// The lines of `file` whose "step" is at most `step` (unreadable lines are dropped too).
std::vector<std::string> lines_through(const fs::path& file, std::int64_t step) {
  std::vector<std::string> kept;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.contains("step") && record["step"].is_number_integer() &&
        record["step"].get<std::int64_t>() <= step)
      kept.push_back(line);
  }
  return kept;
}

}  // namespace

MetricsLog::MetricsLog(const fs::path& file, std::optional<std::int64_t> resume_step)
    : file_(file) {
  const std::vector<std::string> kept =
      resume_step ? lines_through(file, *resume_step) : std::vector<std::string>{};
  out_.open(file, std::ios::trunc);
  if (!out_) throw Error(fmt::format("{}: cannot write the metrics file", file.string()));
  for (const std::string& line : kept) write_line(line);
}

void MetricsLog::write_step(const StepMetrics& m) {
  write_line(ordered_json{{"step", m.step},
                          {"loss", m.loss},
                          {"lr", m.lr},
                          {"grad_norm", m.grad_norm},
                          {"tokens", m.tokens},
                          {"tokens_per_second", m.tokens_per_second},
                          {"elapsed_s", m.elapsed_s}}
                 .dump());
}

void MetricsLog::write_eval(std::int64_t step, const EvalFigures& e) {
  write_line(ordered_json{{"step", step}, {"eval_loss", e.loss}, {"eval_perplexity", e.perplexity}}
                 .dump());
}

void MetricsLog::write_line(const std::string& line) {
  out_ << line << '\n';
  out_.flush();
  if (!out_)
    throw Error(fmt::format("{}: writing the metrics failed (disk full?)", file_.string()));
}

}  // namespace ft::engine
