#include "backends/cpu/gemm.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "backends/common/packed_operands.hpp"
#include "backends/cpu/convert.hpp"
#include "backends/cpu/kernels.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::backends::cpu {

namespace {

using dnnl::memory;

std::string describe(const GemmArgs& a) {
  return "m=" + std::to_string(a.m) + " n=" + std::to_string(a.n) + " k=" + std::to_string(a.k) +
         " batch=" + std::to_string(a.batch) + " trans_a=" + std::to_string(a.trans_a) +
         " trans_b=" + std::to_string(a.trans_b);
}

// C_b = accumulate ? C_b : 0 for an empty inner dimension (oneDNN rejects k = 0); C's rows
// lie ldc apart.
void gemm_empty_k(const GemmArgs& a, std::int64_t ldc) {
  if (a.accumulate) return;
  for (std::int64_t b = 0; b < a.batch; ++b) {
    for (std::int64_t i = 0; i < a.m; ++i) {
      float* row = a.c + b * a.stride_c + i * ldc;
      std::fill(row, row + a.n, 0.0f);
    }
  }
}

// Element e of a buffer of elem-byte elements.
const void* advance(const void* p, std::int64_t e, std::size_t elem) {
  return static_cast<const std::uint8_t*>(p) + e * static_cast<std::int64_t>(elem);
}

// One row of n elements of src (f32, bf16 or f16) rounded to bf16 (convert.hpp's runs): as
// bf16 bits, for oneDNN's bf16 matmul...
void row_as_bf16(const void* src, DType dtype, std::int64_t n, std::uint16_t* out) {
  if (dtype == DType::bf16) {
    std::memcpy(out, src, static_cast<std::size_t>(n) * sizeof(std::uint16_t));
  } else if (dtype == DType::f32) {
    narrow_run(static_cast<const float*>(src), DType::bf16, out, n);
  } else {  // f16: exact in f32, then rounded
    const auto* half = static_cast<const std::uint16_t*>(src);
    for (std::int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(f16_to_f32(half[i]));
  }
}
// ... or as those values in f32, for the f32 matmul of CPUs without a bf16 one.
void row_as_bf16(const void* src, DType dtype, std::int64_t n, float* out) {
  widen_run(src, dtype, out, n);  // exact
  for (std::int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(f32_to_bf16(out[i]));
}

// Items of `rows` rows of `cols` elements (item i, row r at src + i * stride + r * ld) rounded
// to bf16 and packed one after another into dst.
template <typename To>
void pack_as_bf16(const void* src, DType dtype, std::int64_t items, std::int64_t stride,
                  std::int64_t rows, std::int64_t cols, std::int64_t ld, To* dst) {
  const std::size_t elem = dtype_size(dtype);
  // A small copy (LoRA's rank-r operands) is not worth waking the other threads for.
  constexpr std::int64_t kParallelMin = 1 << 15;
#pragma omp parallel for collapse(2) schedule(static) if (items * rows * cols >= kParallelMin)
  for (std::int64_t i = 0; i < items; ++i)
    for (std::int64_t r = 0; r < rows; ++r)
      row_as_bf16(advance(src, i * stride + r * ld, elem), dtype, cols,
                  dst + (i * rows + r) * cols);
}

}  // namespace

Bf16Gemm detect_bf16_gemm(const dnnl::engine& engine) {
  Bf16Gemm bf16;
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto has = [isa](dnnl::cpu_isa want) {
    const auto bits = static_cast<unsigned>(want);
    return (isa & bits) == bits;
  };
  bf16.native = has(dnnl::cpu_isa::avx512_core_bf16);
  bf16.isa = has(dnnl::cpu_isa::avx512_core_amx) ? "AMX-BF16"
             : bf16.native                       ? "AVX512-BF16"
                                                 : "no AVX512-BF16 or AMX-BF16";
  try {
    const memory::desc a({2, 2}, memory::data_type::bf16, memory::format_tag::ab);
    const memory::desc c({2, 2}, memory::data_type::f32, memory::format_tag::ab);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, a, c), engine);
    bf16.onednn = true;
  } catch (const dnnl::error&) {
    bf16.onednn = false;  // AVX2: oneDNN has no bf16 matmul at all
  }
  return bf16;
}

GemmEngine::GemmEngine()
    : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_), bf16_(detect_bf16_gemm(engine_)) {}

GemmEngine::GemmEngine(const Bf16Gemm& bf16)
    : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_), bf16_(bf16) {}

std::size_t GemmEngine::cached_primitives() const {
  std::lock_guard lock(mutex_);
  return cache_.size();
}

void GemmEngine::run(const GemmArgs& args, int threads) {
  if (args.m < 0 || args.n < 0 || args.k < 0 || args.batch < 0) {
    throw Error("gemm: negative size (" + describe(args) + ")");
  }
  if (args.m == 0 || args.n == 0 || args.batch == 0) return;
  if (!is_floating(args.b_dtype)) {
    throw Error("gemm: B has dtype " + std::string(dtype_name(args.b_dtype)) +
                ", expected f32, bf16 or f16");
  }
  if (!is_gemm_precision(args.compute)) {
    throw Error("gemm: compute precision " + std::string(dtype_name(args.compute)) +
                ", expected f32 or bf16");
  }
  std::lock_guard lock(mutex_);
  if (args.compute == DType::bf16) return run_bf16(args, threads);
  if (args.b_dtype == DType::f32) return run_onednn(args, false, threads);
  // One frozen weight, as linear layers use it: widened a tile of rows at a time, so a large
  // bf16 weight (an LM head) never has a whole f32 copy.
  if (args.batch == 1 && !args.trans_a && args.alpha == 1.0f &&
      static_cast<std::size_t>(args.k * args.n) * sizeof(float) > kTileBytes) {
    // trans_b: B stored [n, k] is W[rows = n, cols = k] and c = a · Wᵀ; else B stored [k, n]
    // is W[rows = k, cols = n] and c = a · W.
    const std::int64_t rows = args.trans_b ? args.n : args.k, cols = args.trans_b ? args.k : args.n;
    const auto* b_bytes = static_cast<const std::uint16_t*>(args.b);
    const RowTiledWeight tiled{rows, cols, [&](std::int64_t first, std::int64_t n, float* out) {
                                 kernels::widen_to_f32(b_bytes + first * cols, args.b_dtype, out,
                                                       n * cols);
                               }};
    tile_.resize(static_cast<std::size_t>(rows_per_tile(tiled) * cols));
    gemm_by_row_tiles(
        args.a, args.c, args.m, args.trans_b, args.accumulate, tiled,
        [&](const GemmArgs& g, std::int64_t lda, std::int64_t ldc) {
          run_onednn(g, false, threads, lda, ldc);
        },
        tile_.data());
    return;
  }
  // Widen B (each batch item packed one after another) and run the f32 GEMM on the copy.
  const bool one_b = args.batch == 1 || args.stride_b == 0;
  const std::int64_t matrix = args.k * args.n;
  const std::int64_t count = one_b ? matrix : matrix * args.batch;
  if (b_scratch_.size() < static_cast<std::size_t>(count)) b_scratch_.resize(count);
  const auto* b_bytes = static_cast<const std::uint16_t*>(args.b);
  for (std::int64_t b = 0; b < (one_b ? 1 : args.batch); ++b) {
    kernels::widen_to_f32(b_bytes + b * args.stride_b, args.b_dtype, b_scratch_.data() + b * matrix,
                          matrix);
  }
  GemmArgs widened = args;
  widened.b = b_scratch_.data();
  widened.b_dtype = DType::f32;
  widened.stride_b = one_b ? 0 : matrix;
  run_onednn(widened, false, threads);
}

void GemmEngine::run_strided(const GemmArgs& args, std::int64_t lda, std::int64_t ldc,
                             int threads) {
  if (args.batch != 1 || args.b_dtype != DType::f32 || !is_gemm_precision(args.compute) ||
      args.m < 0 || args.n < 0 || args.k < 0 || lda < (args.trans_a ? args.m : args.k) ||
      ldc < args.n) {
    throw Error(
        "gemm: a strided GEMM takes one f32 B, compute f32 or bf16 and row strides at "
        "least the rows (" +
        describe(args) + " lda=" + std::to_string(lda) + " ldc=" + std::to_string(ldc) + ")");
  }
  if (args.m == 0 || args.n == 0) return;
  std::lock_guard lock(mutex_);
  if (args.compute == DType::bf16) return run_bf16(args, threads, lda, ldc);
  run_onednn(args, false, threads, lda, ldc);
}

void GemmEngine::run_bf16(const GemmArgs& args, int threads, std::int64_t lda, std::int64_t ldc) {
  if (args.k == 0) return gemm_empty_k(args, ldc != 0 ? ldc : args.n);
  const bool batched = args.batch > 1;
  if (batched && args.stride_c == 0) {
    // Every item writes the same C: run them in order, as the formula reads.
    for (std::int64_t b = 0; b < args.batch; ++b) {
      GemmArgs one = args;
      one.batch = 1;
      one.a = args.a + b * args.stride_a;
      one.b = advance(args.b, b * args.stride_b, dtype_size(args.b_dtype));
      run_bf16(one, threads);
    }
    return;
  }
  PackedOperands p = packed_operands(args);
  GemmArgs& packed = p.packed;
  const std::int64_t lda_in = lda != 0 ? lda : p.cols_a;
  // An odd k takes the rounded f32 GEMM: oneDNN 2.6's AMX bf16 matmul executes an illegal
  // instruction for some (k 63 at many m, n; 1215 + 32 j at m 152, n 225), never for an even
  // k. Token counts and layer widths are even; this is rare and gives the same numbers.
  if (bf16_.onednn && args.k % 2 == 0) {
    if (a_bf16_.size() < p.count_a()) a_bf16_.resize(p.count_a());
    pack_as_bf16(args.a, DType::f32, p.items_a, args.stride_a, p.rows_a, p.cols_a, lda_in,
                 a_bf16_.data());
    packed.a = reinterpret_cast<const float*>(a_bf16_.data());  // bf16, as run_onednn reads it
    if (args.b_dtype == DType::bf16) {
      packed.stride_b = args.stride_b;  // read in place
    } else {
      if (b_bf16_.size() < p.count_b()) b_bf16_.resize(p.count_b());
      pack_as_bf16(args.b, args.b_dtype, p.items_b, args.stride_b, p.rows_b, p.cols_b, p.cols_b,
                   b_bf16_.data());
      packed.b = b_bf16_.data();
    }
    return run_onednn(packed, true, threads, 0, ldc);
  }
  if (a_rounded_.size() < p.count_a()) a_rounded_.resize(p.count_a());
  if (b_rounded_.size() < p.count_b()) b_rounded_.resize(p.count_b());
  pack_as_bf16(args.a, DType::f32, p.items_a, args.stride_a, p.rows_a, p.cols_a, lda_in,
               a_rounded_.data());
  pack_as_bf16(args.b, args.b_dtype, p.items_b, args.stride_b, p.rows_b, p.cols_b, p.cols_b,
               b_rounded_.data());
  packed.a = a_rounded_.data();
  packed.b = b_rounded_.data();
  packed.b_dtype = DType::f32;
  run_onednn(packed, false, threads, 0, ldc);
}

void GemmEngine::run_onednn(const GemmArgs& args, bool bf16, int threads, std::int64_t lda,
                            std::int64_t ldc) {
  if (args.k == 0) return gemm_empty_k(args, ldc != 0 ? ldc : args.n);
  const std::size_t elem = bf16 ? 2 : 4;
  const auto item = [&](std::int64_t b) {
    GemmArgs one = args;
    one.batch = 1;
    one.a = static_cast<const float*>(advance(args.a, b * args.stride_a, elem));
    one.b = advance(args.b, b * args.stride_b, elem);
    return one;
  };
  const bool batched = args.batch > 1;
  if (batched && args.stride_c == 0) {
    // Every item writes the same C: run them in order, as the formula reads.
    for (std::int64_t b = 0; b < args.batch; ++b) run_onednn(item(b), bf16, threads);
    return;
  }
  Key key{};
  key.m = args.m;
  key.n = args.n;
  key.k = args.k;
  key.batch = args.batch;
  key.batch_a = batched && args.stride_a != 0 ? args.batch : 1;
  key.batch_b = batched && args.stride_b != 0 ? args.batch : 1;
  key.lda = lda != 0 ? lda : (args.trans_a ? args.m : args.k);
  key.ldc = ldc != 0 ? ldc : args.n;
  key.stride_a = key.batch_a > 1 ? args.stride_a : (args.trans_a ? args.k : args.m) * key.lda;
  key.stride_b = key.batch_b > 1 ? args.stride_b : args.k * args.n;
  key.stride_c = batched ? args.stride_c : args.m * key.ldc;
  key.trans_a = args.trans_a;
  key.trans_b = args.trans_b;
  key.accumulate = args.accumulate;
  key.bf16 = bf16;
  std::memcpy(&key.alpha_bits, &args.alpha, sizeof key.alpha_bits);
  key.threads = threads;

  Entry* entry = nullptr;
  try {
    entry = &entry_for(key);
  } catch (const dnnl::error& e) {
    if (!batched) {
      throw Error("gemm: oneDNN cannot build a matmul for " + describe(args) + ": " + e.what());
    }
    // Strides oneDNN does not take as one batched call (e.g. overlapping items): item by item.
    for (std::int64_t b = 0; b < args.batch; ++b) {
      GemmArgs one = item(b);
      one.c = args.c + b * args.stride_c;
      run_onednn(one, bf16, threads);
    }
    return;
  }
  entry->a.set_data_handle(const_cast<float*>(args.a));  // bf16 data when bf16
  entry->b.set_data_handle(const_cast<void*>(args.b));
  entry->c.set_data_handle(args.c);
  entry->scratch.set_data_handle(scratchpad(entry->scratch.get_desc().get_size()));
  entry->primitive.execute(stream_, {{DNNL_ARG_SRC, entry->a},
                                     {DNNL_ARG_WEIGHTS, entry->b},
                                     {DNNL_ARG_DST, entry->c},
                                     {DNNL_ARG_SCRATCHPAD, entry->scratch}});
  stream_.wait();
}

void* GemmEngine::scratchpad(std::size_t bytes) {
  if (bytes > scratchpad_bytes_) {
    // 4 KiB aligned (oneDNN asks for 64 bytes), grown to what the largest primitive needs.
    const std::size_t rounded = (bytes + 4095) / 4096 * 4096;
    scratchpad_.reset();
    scratchpad_bytes_ = 0;
    scratchpad_.reset(static_cast<std::uint8_t*>(std::aligned_alloc(4096, rounded)));
    if (!scratchpad_)
      throw Error("gemm: out of memory for a " + std::to_string(rounded) +
                  "-byte oneDNN scratchpad");
    scratchpad_bytes_ = rounded;
  }
  return scratchpad_.get();
}

GemmEngine::Entry& GemmEngine::entry_for(const Key& key) {
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    it->second.last_use = ++uses_;
    return it->second;
  }
  if (cache_.size() >= kMaxPrimitives) {
    cache_.erase(std::min_element(cache_.begin(), cache_.end(), [](const auto& a, const auto& b) {
      return a.second.last_use < b.second.last_use;
    }));
  }

  // src [batch_a, M, K], weights [batch_b, K, N], dst [batch, M, N], with explicit strides:
  // a transposed operand is the same dims with the two inner strides swapped. One item is
  // described in 2D: oneDNN 2.6's AMX bf16 kernel computes wrong sums for a [1, M, K] src
  // with M < 32 times a transposed [1, K, N] weight with N in 49..63; in 2D it does not.
  const memory::dims src_strides =
      key.trans_a ? memory::dims{key.stride_a, 1, key.lda} : memory::dims{key.stride_a, key.lda, 1};
  const memory::dims wei_strides =
      key.trans_b ? memory::dims{key.stride_b, 1, key.k} : memory::dims{key.stride_b, key.n, 1};
  const auto operands = key.bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  memory::desc src_md({key.batch_a, key.m, key.k}, operands, src_strides);
  memory::desc wei_md({key.batch_b, key.k, key.n}, operands, wei_strides);
  memory::desc dst_md({key.batch, key.m, key.n}, memory::data_type::f32,
                      memory::dims{key.stride_c, key.ldc, 1});
  if (key.batch == 1) {
    const auto inner = [](const memory::dims& d) { return memory::dims{d[1], d[2]}; };
    src_md = memory::desc({key.m, key.k}, operands, inner(src_strides));
    wei_md = memory::desc({key.k, key.n}, operands, inner(wei_strides));
    dst_md = memory::desc({key.m, key.n}, memory::data_type::f32, memory::dims{key.ldc, 1});
  }

  dnnl::primitive_attr attr;
  // Our scratchpad, one for every primitive (they run one at a time, under the lock): oneDNN's
  // own is allocated and page-faulted anew per call (the AMX kernels' copies of B are large).
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  float alpha;
  std::memcpy(&alpha, &key.alpha_bits, sizeof alpha);
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (key.accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, wei_md, dst_md), attr, engine_);
  log::debug("cpu gemm: new {} primitive m={} n={} k={} batch={} ({})", key.bf16 ? "bf16" : "f32",
             key.m, key.n, key.k, key.batch, pd.impl_info_str());
  Entry entry{dnnl::matmul(pd),
              memory(src_md, engine_, DNNL_MEMORY_NONE),
              memory(wei_md, engine_, DNNL_MEMORY_NONE),
              memory(dst_md, engine_, DNNL_MEMORY_NONE),
              memory(pd.scratchpad_desc(), engine_, DNNL_MEMORY_NONE),
              ++uses_};
  return cache_.emplace(key, std::move(entry)).first->second;
}

}  // namespace ft::backends::cpu
