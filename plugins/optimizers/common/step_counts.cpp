#include "plugins/optimizers/common/step_counts.hpp"

#include <fmt/format.h>

#include <cmath>

#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"

namespace ft::plugins::optimizers {

namespace {
constexpr double kMaxSteps = 16777216.0;  // 2^24: beyond it an f32 skips whole numbers
}  // namespace

StepCounts::StepCounts(std::string_view optimizer,
                       const std::vector<TrainableParameter>& parameters, Backend& backend)
    : optimizer_(optimizer) {
  const auto n = static_cast<std::int64_t>(parameters.size());
  counts_ = Tensor::zeros({n}, DType::f32, backend);
  for (std::int64_t i = 0; i < n; ++i) {
    Tensor view = ops::narrow(counts_, i, 1);
    std::string name = "step/" + parameters[i].name;
    view.set_name(name);
    views_.push_back({std::move(name), std::move(view)});
  }
}

std::vector<std::int64_t> StepCounts::read() const {
  const std::vector<float> values = counts_.to_vector();
  std::vector<std::int64_t> counts(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!(v >= 0 && v < kMaxSteps) || v != std::floor(v))
      throw Error(fmt::format(
          "{}: optimizer state '{}' holds {}, expected a whole number of steps in [0, {}) "
          "(was the checkpoint written by this optimizer?)",
          optimizer_, views_[i].name, v, static_cast<std::int64_t>(kMaxSteps)));
    counts[i] = static_cast<std::int64_t>(v);
  }
  return counts;
}

void StepCounts::write(const std::vector<std::int64_t>& counts) const {
  FT_CHECK(counts.size() == views_.size(), "one step count per parameter");
  std::vector<float> values(counts.begin(), counts.end());  // exact: every count <= 2^24
  counts_.copy_from_host(values.data());
}

}  // namespace ft::plugins::optimizers
