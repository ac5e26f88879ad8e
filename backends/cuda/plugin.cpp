// libftengine-backend-cuda.so: the GPU backend (backends/gpu) on CUDA, GEMMs by cuBLAS.
#include "ftengine/plugin.hpp"

#include "backends/gpu/gpu_backend.hpp"

FTENGINE_PLUGIN(backend, "cuda", "0.1.0", "NVIDIA GPUs: CUDA kernels + cuBLAS",
                ft::backends::gpu::GpuBackend)
