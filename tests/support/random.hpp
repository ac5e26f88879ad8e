// Seeded random test data, the same on every run and machine (the SDK's, which plugin
// authors use too).
#pragma once

#include "ftengine/conformance.hpp"

namespace ft::testing {

using conformance::random_values;

}  // namespace ft::testing
