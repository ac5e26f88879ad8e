#!/usr/bin/env bash
# Training throughput, ftengine vs PyTorch, on the same model and the same step: the
# bench-25m Llama (ftengine init-model), batch 4 x 256 tokens, AdamW, gradient clipping 1.0,
# LoRA (r 8, alpha 16, every linear layer but lm_head) and full fine-tuning.
#
#   bench/train_vs_torch.sh                 # after building into build/
#   FTENGINE=build-x/bin/ftengine THREADS=2 bench/train_vs_torch.sh
#
# Prints one table: method, ftengine tokens/s, PyTorch tokens/s, ratio (ftengine / PyTorch),
# and the machine. Each side reports the median step over its timed steps: ftengine's from
# runs/<job>/metrics.jsonl ("tokens_per_second" per step, the first WARMUP steps skipped),
# PyTorch's from bench/torch/lora_bench.py (one JSON line). Both use THREADS threads.
#
# PyTorch is not installed by this script. Either
#   apt-get install python3-torch          (Debian 12: torch 1.13, CPU; visible to
#                                           /usr/bin/python3, so PYTHON=/usr/bin/python3)
# or
#   python3 -m venv .venv && .venv/bin/pip install torch --index-url \
#       https://download.pytorch.org/whl/cpu && PYTHON=.venv/bin/python bench/...
# torch 2.x uses fused SDPA attention; 1.13 composes attention from matmuls and softmax.
# Debian's torch does its matmuls through the system BLAS (libblas.so.3): with the reference
# BLAS it is ~15x slower, so also `apt-get install libopenblas0-pthread`.
#
# Run it on an otherwise idle machine. Where other processes share the cores, OpenMP threads
# that spin while waiting slow both sides several times over (torch 1.13 on 2 busy cores:
# 8 s a LoRA step instead of 0.7 s); OMP_WAIT_POLICY=PASSIVE in the environment reaches
# both sides and avoids it.
#
# Environment: FTENGINE (binary, default build/bin/ftengine), PYTHON (default: the first of
# python3, /usr/bin/python3 that imports torch), THREADS (default: all cores), STEPS
# (ftengine steps, default 20), WARMUP (untimed steps on each side, default 3), WORK (models,
# data and runs; default /tmp/ftengine-train-vs-torch, reused between runs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FTENGINE=${FTENGINE:-$ROOT/build/bin/ftengine}
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-3}
WORK=${WORK:-/tmp/ftengine-train-vs-torch}

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
find_torch_python
if [[ -z ${PYTHON:-} ]]; then
  echo "train_vs_torch: no python with torch found; see the header of $0 for how to get it" >&2
  exit 2
fi
if [[ ! -x $FTENGINE ]]; then
  echo "train_vs_torch: $FTENGINE not found; build ftengine first or set FTENGINE" >&2
  exit 2
fi

bench_inputs "$FTENGINE" "$WORK" bench-25m
MODEL=$WORK/bench-25m
DATA=$WORK/data

declare -A OURS THEIRS
for method in lora full; do
  run_dir=$WORK/runs/$method
  rm -rf "$run_dir"
  echo "ftengine: $method ..." >&2
  if "$FTENGINE" -q run "$ROOT/bench/jobs/${method}_bench25m.toml" \
      --set model.path="$MODEL" --set data.train="$DATA/train.jsonl" \
      --set output.dir="$run_dir" --set train.max_steps="$STEPS" \
      --set backend.plugin=cpu --set backend.threads="$THREADS" >"$WORK/$method.log" 2>&1 &&
      [[ -f $run_dir/metrics.jsonl ]]; then
    OURS[$method]=$(median_tokens_per_second "$run_dir/metrics.jsonl" "$WARMUP" "$PYTHON")
  else
    OURS[$method]=n/a
    echo "  ftengine run failed; last lines of $WORK/$method.log:" >&2
    tail -n 3 "$WORK/$method.log" | sed 's/^/    /' >&2
  fi
  echo "pytorch: $method ..." >&2
  THEIRS[$method]=$("$PYTHON" "$ROOT/bench/torch/lora_bench.py" --model "$MODEL" \
      --method "$method" --threads "$THREADS" --batch 4 --seq-len 256 --r 8 --alpha 16 \
      --warmup "$WARMUP" --steps 10 | tee "$WORK/$method.torch.json" |
      "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["tokens_per_second"])')
done

echo
echo "Training throughput, bench-25m, batch 4 x 256 tokens, AdamW, $THREADS threads"
echo "machine: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores;" \
     "torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
printf '%-8s %16s %16s %8s\n' method "ftengine tok/s" "PyTorch tok/s" ratio
for method in lora full; do
  ratio=n/a
  if [[ ${OURS[$method]} != n/a ]]; then
    ratio=$("$PYTHON" -c "print(f'{${OURS[$method]} / ${THEIRS[$method]}:.2f}')")
  fi
  printf '%-8s %16s %16s %8s\n' "$method" "${OURS[$method]}" "${THEIRS[$method]}" "$ratio"
done
