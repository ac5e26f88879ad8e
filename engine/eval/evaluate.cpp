#include "engine/eval/evaluate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/data/jsonl.hpp"
#include "engine/data/rows.hpp"
#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

std::vector<Document> read_documents(const fs::path& file, const Tokenizer& tokenizer,
                                     const std::string& text_field) {
  if (!fs::is_regular_file(file))
    throw Error(fmt::format("{}: no such data file", file.string()));
  if (!is_json_lines(file)) return {tokenizer.encode(read_whole_file(file))};
  std::vector<Document> documents;
  for_each_json_line(file, [&](const nlohmann::json& record, const std::string& at) {
    documents.push_back(tokenizer.encode(string_field(record, text_field, at)));
  });
  return documents;
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
  // Each batch's summed loss stays on the device; they are read back together at the end.
  const auto batch_size = static_cast<std::size_t>(options.batch_size);
  const Tensor losses = Tensor::zeros(
      {static_cast<std::int64_t>((windows.size() + batch_size - 1) / batch_size)}, DType::f32,
      backend);
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
    std::vector<std::int32_t> targets(count * width, kIgnoreTarget);
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
    backend.copy(losses.f32() + first / batch_size, loss.data(), sizeof(float));
  }
  double loss_sum = 0.0;
  for (const float loss : losses.to_vector()) loss_sum += loss;  // in batch order
  result.loss = loss_sum / static_cast<double>(result.tokens);
  result.perplexity = std::exp(result.loss);
  return result;
}

}  // namespace ft::engine
