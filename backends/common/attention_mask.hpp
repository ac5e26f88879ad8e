// Which keys a query may attend to, written once for the CPU attention (backends/cpu) and the
// GPU kernels (backends/gpu), so both mask alike. The meaning is ft::AttentionForwardArgs's:
// query i sees key j when j <= i (causal), when i - j < window (window > 0; 0 means no
// window), and, when document ids are given, when both tokens belong to the same document
// (packed sequences must not see across a document boundary).
#pragma once

#include <cstdint>

#include "ftengine/host_device.hpp"

namespace ft::backends {

// doc: the document ids of the query's sequence ([seq], indexed by position), or null.
FT_HOST_DEVICE inline bool attention_allows(std::int64_t i, std::int64_t j, std::int64_t window,
                                            const std::int32_t* doc) {
  return j <= i && (window <= 0 || i - j < window) && (doc == nullptr || doc[i] == doc[j]);
}

}  // namespace ft::backends
