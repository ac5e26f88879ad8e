// What the trainer does with gradients between backward and the optimizer step, over the
// flat gradient buffer (one call each, whatever the number of parameters): measure their
// squared norm and count their non-finite elements into backend memory (read back with the
// step's other numbers), name the first non-finite parameter when there is one, and clip.
//
//   measure_gradients(flat, stats);                       // stats: 2 doubles on the backend
//   ... read stats back once ...
//   clip_gradients(flat, clip_coefficient(job.train.grad_clip, norm));
#pragma once

#include <vector>

#include "engine/train/flat_parameters.hpp"
#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"

namespace ft::engine {

// stats[0] = sum of squares of every gradient, stats[1] = their NaN/Inf count (backend
// memory, 2 doubles); nothing waits for the device.
void measure_gradients(const FlatParameters& flat, double* stats);

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
