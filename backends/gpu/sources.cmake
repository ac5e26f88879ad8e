# The GPU kernel sources, one file per op, compiled by nvcc for the cuda plugin
# (backends/cuda) and by hipcc for the rocm plugin (backends/rocm): both include this file, so
# a new op file is listed once. FTENGINE_GPU_GEMM_SOURCE is the project's own GEMM, built only
# where no vendor BLAS is used (rocm).
set(FTENGINE_GPU_KERNEL_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/attention.cu
    ${CMAKE_CURRENT_LIST_DIR}/cast.cu
    ${CMAKE_CURRENT_LIST_DIR}/cross_entropy.cu
    ${CMAKE_CURRENT_LIST_DIR}/dequantize_4bit.cu
    ${CMAKE_CURRENT_LIST_DIR}/dropout.cu
    ${CMAKE_CURRENT_LIST_DIR}/elementwise.cu
    ${CMAKE_CURRENT_LIST_DIR}/embedding.cu
    ${CMAKE_CURRENT_LIST_DIR}/launch_error.cu
    ${CMAKE_CURRENT_LIST_DIR}/optimizer.cu
    ${CMAKE_CURRENT_LIST_DIR}/reduce.cu
    ${CMAKE_CURRENT_LIST_DIR}/reduce_rows.cu
    ${CMAKE_CURRENT_LIST_DIR}/rmsnorm.cu
    ${CMAKE_CURRENT_LIST_DIR}/rope.cu
    ${CMAKE_CURRENT_LIST_DIR}/round_bf16.cu
    ${CMAKE_CURRENT_LIST_DIR}/swiglu.cu
    ${CMAKE_CURRENT_LIST_DIR}/unary.cu)
set(FTENGINE_GPU_GEMM_SOURCE ${CMAKE_CURRENT_LIST_DIR}/gemm.cu)
