#include "engine/train/micro_batch.hpp"

#include <algorithm>

#include "ftengine/error.hpp"

namespace ft::engine {

std::int64_t trimmed_length(std::int64_t longest, std::int64_t seq_len) {
  std::int64_t step = 8;
  while (step * 16 <= longest) step *= 2;
  return std::min(seq_len, (longest + step - 1) / step * step);
}

std::vector<MicroBatch> make_micro_batches(const std::vector<TokenRow>& rows,
                                           const std::vector<std::int64_t>& indices,
                                           std::size_t batch_size, Backend& backend) {
  FT_CHECK(!indices.empty() && batch_size > 0 && indices.size() % batch_size == 0,
           "make_micro_batches: the rows do not make whole micro-batches");
  // Host layout: per micro-batch, its tokens, positions, doc_ids, targets ([B, L] each).
  std::vector<std::int32_t> host;
  std::vector<MicroBatch> batches(indices.size() / batch_size);
  std::vector<std::pair<std::int64_t, Shape>> places;  // offset of each micro-batch, its shape
  for (std::size_t m = 0; m < batches.size(); ++m) {
    const auto row = [&](std::size_t r) -> const TokenRow& {
      return rows[static_cast<std::size_t>(indices[m * batch_size + r])];
    };
    const auto seq_len = static_cast<std::int64_t>(row(0).tokens.size());
    std::int64_t longest = 0;
    MicroBatch& batch = batches[m];
    for (std::size_t r = 0; r < batch_size; ++r) {
      FT_CHECK(static_cast<std::int64_t>(row(r).tokens.size()) == seq_len,
               "make_micro_batches: rows of different lengths in one micro-batch");
      longest = std::max(longest, filled_length(row(r)));
      for (std::size_t t = 0; t < row(r).tokens.size(); ++t) {
        batch.tokens += row(r).doc_ids[t] >= 0;
        batch.target_tokens += row(r).targets[t] != kIgnoreTarget;
      }
    }
    const std::int64_t length = trimmed_length(longest, seq_len);
    places.emplace_back(static_cast<std::int64_t>(host.size()),
                        Shape{static_cast<std::int64_t>(batch_size), length});
    for (const auto field :
         {&TokenRow::tokens, &TokenRow::positions, &TokenRow::doc_ids, &TokenRow::targets})
      for (std::size_t r = 0; r < batch_size; ++r)
        host.insert(host.end(), (row(r).*field).begin(), (row(r).*field).begin() + length);
  }
  const Tensor upload = Tensor::from_ints(host, {static_cast<std::int64_t>(host.size())}, backend);
  for (std::size_t m = 0; m < batches.size(); ++m) {
    const auto& [offset, shape] = places[m];
    const std::int64_t n = shape_numel(shape);
    batches[m].input.tokens = upload.view(offset, shape);
    batches[m].input.positions = upload.view(offset + n, shape);
    batches[m].input.doc_ids = upload.view(offset + 2 * n, shape);
    batches[m].targets = upload.view(offset + 3 * n, shape);
  }
  return batches;
}

MicroBatch make_micro_batch(const std::vector<TokenRow>& rows,
                            const std::vector<std::int64_t>& indices, Backend& backend) {
  FT_CHECK(!indices.empty(), "make_micro_batch: no rows");
  return make_micro_batches(rows, indices, indices.size(), backend)[0];
}

}  // namespace ft::engine
