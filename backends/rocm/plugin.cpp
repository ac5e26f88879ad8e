// libftengine-backend-rocm.so: the GPU backend (backends/gpu) on HIP, GEMMs by the project's
// own tiled kernel. FTENGINE_ROCM_ARCHS (the CMake configure) lists the GPUs it is built for.
#include "ftengine/plugin.hpp"

#include "backends/gpu/gpu_backend.hpp"

FTENGINE_PLUGIN(backend, "rocm", "0.1.0",
                "AMD GPUs: HIP kernels (" FTENGINE_ROCM_ARCHS ") + own GEMM",
                ft::backends::gpu::GpuBackend)
