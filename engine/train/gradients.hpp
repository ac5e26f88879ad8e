// What the trainer does with gradients between backward and the optimizer step: measure
// their global norm, find the first non-finite one, and clip.
//
//   const double norm = global_grad_norm(trainable, backend);     // before clipping
//   if (!std::isfinite(norm)) ... first_nonfinite_gradient(trainable, backend) ...
//   clip_gradients(trainable, job.train.grad_clip, norm);
#pragma once

#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"

namespace ft::engine {

// sqrt of the sum of squares of every gradient (a parameter without one counts 0).
double global_grad_norm(const std::vector<Parameter>& parameters, Backend& backend);

// The first parameter, in order, whose gradient holds a NaN or an Inf; nullptr when none.
const Parameter* first_nonfinite_gradient(const std::vector<Parameter>& parameters,
                                          Backend& backend);

// As torch.nn.utils.clip_grad_norm_: gradients are scaled by max_norm / (norm + 1e-6) when
// that is below 1. max_norm 0 clips nothing.
void clip_gradients(const std::vector<Parameter>& parameters, double max_norm, double norm);

}  // namespace ft::engine
