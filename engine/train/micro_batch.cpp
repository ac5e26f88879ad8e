#include "engine/train/micro_batch.hpp"

#include "ftengine/error.hpp"

namespace ft::engine {

MicroBatch make_micro_batch(const std::vector<TokenRow>& rows,
                            const std::vector<std::int64_t>& indices, Backend& backend) {
  FT_CHECK(!indices.empty(), "make_micro_batch: no rows");
  const auto length =
      static_cast<std::int64_t>(rows[static_cast<std::size_t>(indices[0])].tokens.size());
  std::vector<std::int32_t> tokens, targets, positions, doc_ids;
  MicroBatch batch;
  for (const std::int64_t i : indices) {
    const TokenRow& row = rows[static_cast<std::size_t>(i)];
    FT_CHECK(static_cast<std::int64_t>(row.tokens.size()) == length,
             "make_micro_batch: rows of different lengths");
    tokens.insert(tokens.end(), row.tokens.begin(), row.tokens.end());
    targets.insert(targets.end(), row.targets.begin(), row.targets.end());
    positions.insert(positions.end(), row.positions.begin(), row.positions.end());
    doc_ids.insert(doc_ids.end(), row.doc_ids.begin(), row.doc_ids.end());
    for (std::size_t t = 0; t < row.tokens.size(); ++t) {
      batch.tokens += row.doc_ids[t] >= 0;
      batch.target_tokens += row.targets[t] != kIgnoreTarget;
    }
  }
  const Shape shape{static_cast<std::int64_t>(indices.size()), length};
  batch.input.tokens = Tensor::from_ints(tokens, shape, backend);
  batch.input.positions = Tensor::from_ints(positions, shape, backend);
  batch.input.doc_ids = Tensor::from_ints(doc_ids, shape, backend);
  batch.targets = Tensor::from_ints(targets, shape, backend);
  return batch;
}

std::int64_t count_target_tokens(const std::vector<TokenRow>& rows,
                                 const std::vector<std::int64_t>& indices) {
  std::int64_t count = 0;
  for (const std::int64_t i : indices)
    for (const std::int32_t target : rows[static_cast<std::size_t>(i)].targets)
      count += target != kIgnoreTarget;
  return count;
}

}  // namespace ft::engine
