#include "engine/train/precision.hpp"

#include <fmt/format.h>

#include "ftengine/error.hpp"

namespace ft::engine {

ResolvedPrecision resolve_precision(std::string_view requested, const Backend& backend) {
  if (requested != "auto" && requested != "f32" && requested != "bf16") {
    throw Error(
        fmt::format("train.precision = \"{}\": expected \"auto\", \"f32\" or \"bf16\"", requested));
  }
  if (requested == "f32") return {DType::f32, "precision: f32 (train.precision = \"f32\")", false};
  const PrecisionSupport support = backend.precision_support();
  if (support.bf16) {
    return {DType::bf16,
            fmt::format("precision: bf16 GEMMs, f32 everything else ({}; {} backend: {})",
                        requested == "auto" ? "auto" : "train.precision = \"bf16\"", backend.name(),
                        support.how),
            false};
  }
  if (requested == "auto") {
    return {DType::f32,
            fmt::format("precision: f32 (auto: the {} backend has no fast bf16 GEMM: {})",
                        backend.name(), support.how),
            false};
  }
  return {DType::f32,
          fmt::format("precision: f32, not the bf16 asked for: the {} backend has no fast bf16 "
                      "GEMM ({}), so the job runs in f32",
                      backend.name(), support.how),
          true};
}

Job with_precision(Job job, DType gemm) {
  job.train.precision = std::string(dtype_name(gemm));
  toml::table* train = job.resolved["train"].as_table();
  FT_CHECK(train != nullptr, "resolved job lacks section [train]");
  train->insert_or_assign("precision", job.train.precision);
  return job;
}

}  // namespace ft::engine
