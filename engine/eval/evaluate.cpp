#include "engine/eval/evaluate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

namespace {

constexpr std::int32_t kIgnore = -100;

std::string read_whole_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the data file", file.string()));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// "an array", "a string": a JSON value's type as a phrase.
std::string a_json_type(const nlohmann::json& value) {
  const std::string name = value.type_name();
  return (name == "array" || name == "object" ? "an " : "a ") + name;
}

bool is_json_lines(const fs::path& file) {
  const std::string ext = file.extension().string();
  return ext == ".jsonl" || ext == ".json" || ext == ".ndjson";
}

std::vector<Document> read_json_lines(const fs::path& file, const Tokenizer& tokenizer,
                                      const std::string& field) {
  std::ifstream in(file);
  if (!in) throw Error(fmt::format("{}: cannot open the data file", file.string()));
  std::vector<Document> documents;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", file.string(), number);
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(fmt::format("{}: invalid JSON ({}); expected one object per line", where,
                              e.what()));
    }
    if (!record.is_object())
      throw Error(fmt::format("{}: expected a JSON object per line, found {}", where,
                              a_json_type(record)));
    const auto it = record.find(field);
    if (it == record.end())
      throw Error(fmt::format("{}: the record has no \"{}\" field", where, field));
    if (!it->is_string())
      throw Error(fmt::format("{}: \"{}\" must be a string, found {}", where, field,
                              a_json_type(*it)));
    documents.push_back(tokenizer.encode(it->get_ref<const std::string&>()));
  }
  return documents;
}

}  // namespace

std::vector<Document> read_documents(const fs::path& file, const Tokenizer& tokenizer,
                                     const std::string& text_field) {
  if (!fs::is_regular_file(file))
    throw Error(fmt::format("{}: no such data file", file.string()));
  if (is_json_lines(file)) return read_json_lines(file, tokenizer, text_field);
  return {tokenizer.encode(read_whole_file(file))};
}

EvalResult evaluate(Model& model, const std::vector<Document>& documents,
                    const EvalOptions& options) {
  if (options.seq_len < 1)
    throw Error(fmt::format("seq-len must be at least 1, found {}", options.seq_len));
  if (options.batch_size < 1)
    throw Error(fmt::format("batch size must be at least 1, found {}", options.batch_size));
  const std::int64_t context = model.info().max_position_embeddings;
  if (context > 0 && options.seq_len > context)
    throw Error(fmt::format("seq-len {} is longer than the model's context of {} "
                            "(max_position_embeddings)",
                            options.seq_len, context));

  // Every window as (document, first token).
  struct Window {
    const Document* doc;
    std::int64_t start;
  };
  std::vector<Window> windows;
  for (const Document& doc : documents)
    for (std::int64_t start = 0; start + 1 < static_cast<std::int64_t>(doc.size());
         start += options.seq_len)
      windows.push_back({&doc, start});
  if (windows.empty())
    throw Error("nothing to evaluate: no document has two tokens (one to read, one to predict)");

  NoGrad no_grad;
  Backend& backend = model.lm_head().backend();
  const std::int64_t L = options.seq_len;
  EvalResult result;
  result.documents = static_cast<std::int64_t>(documents.size());
  result.windows = static_cast<std::int64_t>(windows.size());
  double loss_sum = 0.0;
  for (std::size_t first = 0; first < windows.size();
       first += static_cast<std::size_t>(options.batch_size)) {
    const std::size_t count =
        std::min(windows.size() - first, static_cast<std::size_t>(options.batch_size));
    // The batch is as long as its longest window; shorter ones are padded at the end, where
    // causal attention keeps the padding from touching real positions.
    std::int64_t width = 0;
    for (std::size_t w = first; w < first + count; ++w)
      width = std::max(width, std::min<std::int64_t>(
                                  L, static_cast<std::int64_t>(windows[w].doc->size()) - 1 -
                                         windows[w].start));
    std::vector<std::int32_t> tokens(count * width, 0);
    std::vector<std::int32_t> targets(count * width, kIgnore);
    for (std::size_t b = 0; b < count; ++b) {
      const Document& doc = *windows[first + b].doc;
      const std::int64_t start = windows[first + b].start;
      const std::int64_t n = std::min<std::int64_t>(
          width, static_cast<std::int64_t>(doc.size()) - 1 - start);
      for (std::int64_t t = 0; t < n; ++t) {
        tokens[b * width + t] = doc[start + t];
        targets[b * width + t] = doc[start + t + 1];
      }
      result.tokens += n;
    }
    const Shape shape{static_cast<std::int64_t>(count), width};
    ModelInput input;
    input.tokens = Tensor::from_ints(tokens, shape, backend);
    const Tensor hidden = model.forward(input);
    const Tensor loss =
        ops::cross_entropy(hidden, model.lm_head(), Tensor::from_ints(targets, shape, backend),
                           {.reduction = ops::Reduction::sum});
    loss_sum += loss.item();
  }
  result.loss = loss_sum / static_cast<double>(result.tokens);
  result.perplexity = std::exp(result.loss);
  return result;
}

}  // namespace ft::engine
