// The CPU backend as a plugin: libftengine-backend-cpu.so exports one descriptor.
#include "ftengine/plugin.hpp"

#include "backends/cpu/cpu_backend.hpp"

FTENGINE_PLUGIN(backend, "cpu", "0.1.0", "oneDNN GEMM + vectorised OpenMP kernels",
                ft::backends::cpu::CpuBackend)
