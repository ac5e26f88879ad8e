// train.precision on the job's backend: the GEMM operand precision the run computes with.
//
//   const ResolvedPrecision precision = resolve_precision(job.train.precision, *backend);
//   log::info("{}", precision.line);
//   const Job run_job = with_precision(job, precision.gemm);  // what job.toml records
//   ops::GemmPrecision scope(precision.gemm);
//
// The resolved value, not "auto", goes into the run's job.toml and checkpoints, so a resume
// on a machine that resolves otherwise differs from its checkpoint and is refused like any
// changed job (unless --force).
#pragma once

#include <string>
#include <string_view>

#include "engine/config/job.hpp"
#include "ftengine/backend.hpp"

namespace ft::engine {

struct ResolvedPrecision {
  DType gemm = DType::f32;
  // "precision: bf16 GEMMs, f32 everything else (auto; cpu backend: AVX512-BF16)"
  std::string line;
  bool fell_back = false;  // bf16 was asked for and the backend has no fast bf16: f32
};

// requested: "auto", "f32" or "bf16" (the schema's choices; anything else is ft::Error).
ResolvedPrecision resolve_precision(std::string_view requested, const Backend& backend);

// The job with train.precision set to the resolved precision, in job.train and job.resolved.
Job with_precision(Job job, DType gemm);

}  // namespace ft::engine
