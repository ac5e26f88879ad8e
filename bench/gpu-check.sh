#!/usr/bin/env bash
# The GPU check, one script for a machine with an NVIDIA GPU (under 8 minutes on an H200):
#   1. build with CUDA (Release; tests, no benchmarks);
#   2. the backend conformance suite on the GPU (every op, forward and backward, against
#      the CPU backend, at f32 and bf16 GEMM precision), and the LoRA job that must give the
#      CPU's losses (when ../shared/testdata is there): in f32 within 0.2% a step, and with
#      train.precision = "bf16" against the CPU's emulated bf16 (backend.emulate_bf16) within
#      2% a step;
#   3. the quickstart job on the GPU, and a bench-125m LoRA job (batch 4 x 256, r 8, every
#      linear layer, AdamW) at train.precision f32 and bf16: tokens/s and MFU.
#
#   bench/gpu-check.sh                 # from the repository root
#   OUT=/tmp/gpu BACKEND=cuda STEPS=30 bench/gpu-check.sh
#
# MFU = tokens/s x model FLOPs per token / the GPU's peak at that precision. Model FLOPs
# per token for LoRA: 4 N (forward 2 N, backward to the inputs 2 N; the frozen weights get
# no gradient) plus attention (4 x layers x seq x hidden, forward and backward 3x that),
# with N the weights of the linear layers. The peaks are H100/H200 SXM dense figures:
# PEAK_BF16_TFLOPS (default 989, bf16 tensor cores) for bf16 runs, PEAK_F32_TFLOPS (default
# 67, f32 without tensor cores: the cuda backend's f32 GEMM is cuBLAS's plain SGEMM, not
# TF32) for f32 runs. Logs and a summary go to $OUT (default build-gpu/gpu-check).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build-gpu}
OUT=${OUT:-$BUILD/gpu-check}
BACKEND=${BACKEND:-cuda}
STEPS=${STEPS:-30}
PEAK_BF16_TFLOPS=${PEAK_BF16_TFLOPS:-989}
PEAK_F32_TFLOPS=${PEAK_F32_TFLOPS:-67}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started)) s"; }

say "== gpu-check: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi absent')"

say "== build ($BUILD)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFTENGINE_BUILD_BENCH=OFF \
  >"$OUT/configure.log" 2>&1 || { tail -20 "$OUT/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)" >"$OUT/build.log" 2>&1 || { grep -m 20 -B2 -A8 "error" "$OUT/build.log"; exit 1; }
FTENGINE=$BUILD/bin/ftengine
"$FTENGINE" plugins | sed -n '/backends on this machine/,/^$/p' | tee -a "$SUMMARY"
say "   built in $(elapsed)"

say "== conformance suite on $BACKEND"
if "$BUILD/bin/conformance_test" --gtest_filter="*/$BACKEND" >"$OUT/conformance.log" 2>&1; then
  say "   $(grep -E '^\[  PASSED  \]|^\[  SKIPPED \]' "$OUT/conformance.log" | tr '\n' ' ')"
else
  say "   FAILED:"
  grep -E "Failure|cpu .*backend|FAILED" "$OUT/conformance.log" | head -40 | tee -a "$SUMMARY"
fi
if [[ -d ../shared/testdata/models/stories260K-hf ]]; then
  # GpuBackendsGiveTheCpuLosses (f32, within 0.2%) and ...InBf16 (cuda bf16 against the
  # CPU's emulated bf16, within 2%)
  if OMP_WAIT_POLICY=PASSIVE "$BUILD/bin/train_test" --gtest_filter='*GpuBackendsGiveTheCpuLosses*' \
    >"$OUT/same_losses.log" 2>&1; then
    grep -q "OK \] .*GpuBackendsGiveTheCpuLosses " "$OUT/same_losses.log" &&
      say "   LoRA losses in f32 on every GPU backend match the CPU's (10 steps, within 0.2%)"
    grep -q "OK \] .*GpuBackendsGiveTheCpuLossesInBf16 " "$OUT/same_losses.log" &&
      say "   LoRA losses in bf16 match the CPU's emulated bf16 (10 steps, within 2%)"
    if grep -q "SKIPPED \] .*GpuBackends" "$OUT/same_losses.log"; then
      say "   same-losses skipped: $(grep -A1 'Skipped$' "$OUT/same_losses.log" | grep -v -e Skipped -e '^--' | tr '\n' ' ')"
    fi
  else
    say "   LoRA losses differ:"
    grep -E "Failure|step|Which is|FAILED" "$OUT/same_losses.log" | head -20 | tee -a "$SUMMARY"
  fi
else
  say "   (../shared/testdata absent: the same-losses jobs are not run)"
fi
say "   at $(elapsed)"

# median tokens/s of the steps after the first 5 (warm-up), from metrics.jsonl
median_tps() {
  python3 - "$1" <<'PY'
import json, statistics, sys
steps = [json.loads(l)["tokens_per_second"] for l in open(sys.argv[1]) if '"loss"' in l]
print(f"{statistics.median(steps[5:] or steps):.0f}")
PY
}

say "== quickstart on $BACKEND"
WORK=$OUT/work
rm -rf "$WORK" && mkdir -p "$WORK"
"$FTENGINE" -q init-model --preset tiny --out "$WORK/tiny" >/dev/null
"$FTENGINE" -q init-data --preset quickstart --out "$WORK/data" >/dev/null
"$FTENGINE" run configs/quickstart.toml --set backend.plugin="$BACKEND" \
  --set model.path="$WORK/tiny" --set data.train="$WORK/data/train.jsonl" \
  --set data.eval="$WORK/data/val.jsonl" --set output.dir="$WORK/quickstart" \
  >"$OUT/quickstart.log" 2>&1 || { tail -20 "$OUT/quickstart.log"; exit 1; }
say "   $(grep -E 'eval at step' "$OUT/quickstart.log" | sed -n '1p;$p' | sed 's/^ftengine: //' | tr '\n' ';')"
say "   $(grep -E 'done:' "$OUT/quickstart.log" | sed 's/^ftengine: //')"
say "   at $(elapsed)"

"$FTENGINE" -q init-model --preset bench-125m --out "$WORK/bench-125m" >/dev/null
declare -A tps_at
for precision in f32 bf16; do
  say "== bench-125m LoRA on $BACKEND, train.precision = $precision ($STEPS steps, batch 4 x 256)"
  "$FTENGINE" run bench/jobs/lora_bench25m.toml --set backend.plugin="$BACKEND" \
    --set model.path="$WORK/bench-125m" --set data.train="$WORK/data/train.jsonl" \
    --set output.dir="$WORK/lora-125m-$precision" --set train.max_steps="$STEPS" \
    --set train.precision="$precision" \
    >"$OUT/lora125m-$precision.log" 2>&1 || { tail -20 "$OUT/lora125m-$precision.log"; exit 1; }
  say "   $(grep -m1 -oE 'precision: .*' "$OUT/lora125m-$precision.log")"
  tps=$(median_tps "$WORK/lora-125m-$precision/metrics.jsonl")
  tps_at[$precision]=$tps
  if [[ $precision == bf16 ]]; then peak=$PEAK_BF16_TFLOPS; else peak=$PEAK_F32_TFLOPS; fi
  # bench-125m: 12 layers, hidden 768, MLP 2048, 12 heads, 4 kv heads of 64, seq 256
  mfu=$(python3 -c "
n = 12 * (2 * 768 * 768 + 2 * 256 * 768 + 3 * 2048 * 768) + 32000 * 768  # linears + lm_head
attention = 4 * 12 * 256 * 768 * 3  # forward and backward
flops = 4 * n + attention
print(f'{flops / 1e9:.2f} GFLOP/token, MFU {100 * $tps * flops / ($peak * 1e12):.2f}%')")
  say "   $tps tokens/s; $mfu of $peak TFLOP/s ($precision peak)"
  say "   peak memory: $(grep -oE 'peak [0-9.]+ [KMG]iB' "$OUT/lora125m-$precision.log" | tail -1)"
  say "   at $(elapsed)"
done
say "   bf16 / f32 tokens/s: $(python3 -c "print(f'{${tps_at[bf16]} / ${tps_at[f32]}:.2f}')")"
say "== done in $(elapsed); logs in $OUT"
