// What the trainer does with gradients between backward and the optimizer step, over the
// flat gradient buffer (one call each, whatever the number of parameters): measure their
// squared norm into backend memory (read back with the step's other numbers), name the first
// non-finite parameter when the norm is not finite, and clip.
//
//   measure_gradients(flat, squared_norm);                // a double on the backend
//   ... read it back once, with the step's other numbers ...
//   clip_gradients(flat, clip_coefficient(job.train.grad_clip, norm));
#pragma once

#include <vector>

#include "engine/train/flat_parameters.hpp"
#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"

namespace ft::engine {

// *squared_norm = sum of squares of every gradient (backend memory, a double, summed in
// double); nothing waits for the device. It is NaN or Inf exactly when a gradient is: a
// finite f32 squared stays far inside double's range, so no second pass counts them.
void measure_gradients(const FlatParameters& flat, double* squared_norm);

// As torch.nn.utils.clip_grad_norm_: max_norm / (norm + 1e-6) when that is below 1, else 1
// (no clipping); max_norm 0 clips nothing.
double clip_coefficient(double max_norm, double norm);
// Every gradient times `coefficient` (nothing to do at 1).
void clip_gradients(const FlatParameters& flat, double coefficient);

// The first parameter, in order, whose gradient holds a NaN or an Inf; nullptr when none.
// One read per parameter: for the message after a step has gone wrong, not for every step.
const Parameter* first_nonfinite_gradient(const std::vector<Parameter>& parameters,
                                          Backend& backend);

}  // namespace ft::engine
