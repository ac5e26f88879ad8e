// The launchers return as soon as a kernel is queued, so a bad launch (too many blocks, no
// device code for this GPU) is only seen in the runtime's sticky last error. gpu_backend.cpp
// checks it after each op through this, which kernels.hpp declares and every op shares.
#include "backends/gpu/gpu_runtime.hpp"
#include "backends/gpu/kernels.hpp"

namespace ft::backends::gpu {

const char* last_launch_error() {
  const gpuError_t error = gpuGetLastError();
  return error == gpuSuccess ? "" : gpuGetErrorString(error);
}

}  // namespace ft::backends::gpu
