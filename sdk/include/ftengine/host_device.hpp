// FT_HOST_DEVICE marks a function that is compiled for the host and, when the translation unit
// is compiled by nvcc or hipcc, for the GPU too. Small numeric facts (rounding to bf16/f16,
// Philox, optimizer steps, the attention mask) are written once under it, so the CPU loops
// and the GPU kernels run the same code rather than two copies that could drift apart.
#pragma once

#if defined(__CUDACC__) || defined(__HIPCC__)
#define FT_HOST_DEVICE __host__ __device__
#else
#define FT_HOST_DEVICE
#endif
