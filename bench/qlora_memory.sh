#!/usr/bin/env bash
# Memory and speed of the fine-tuning methods side by side (issue: QLoRA): the bench-125m
# Llama (ftengine init-model), batch 4 x 256 tokens, r 8 on every linear layer but lm_head,
# AdamW; full fine-tuning, LoRA on an f32 base, LoRA on a bf16 base, QLoRA (NF4,
# double-quantised, block 64).
#
#   bench/qlora_memory.sh                  # after building into build/
#   FTENGINE=... THREADS=2 STEPS=6 bench/qlora_memory.sh
#
# For each: peak resident memory of the whole process (GNU time's "Maximum resident set
# size", as /usr/bin/time -v reports it), the frozen base's bytes as stored (the adapter's
# log line), and the median tokens/s of the steps after the first WARMUP. qlora-bf16 also
# holds what QLoRA does not quantise (embeddings, lm_head, norms) in bf16. Run it on an
# otherwise idle machine. Environment: FTENGINE, THREADS (default: all cores), STEPS
# (default 6), WARMUP (default 2), CHECKPOINTING (true: activation checkpointing in every
# run, so activations weigh less against the weights), WORK (default
# /tmp/ftengine-qlora-bench, reused).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FTENGINE=${FTENGINE:-$ROOT/build/bin/ftengine}
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-6}
WARMUP=${WARMUP:-2}
CHECKPOINTING=${CHECKPOINTING:-false}
WORK=${WORK:-/tmp/ftengine-qlora-bench}
[[ -x $FTENGINE ]] || { echo "qlora_memory: $FTENGINE not found; build first" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "qlora_memory: needs GNU time (apt-get install time)" >&2; exit 2; }

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_inputs "$FTENGINE" "$WORK" bench-125m
MODEL=$WORK/bench-125m
DATA=$WORK/data

declare -A SETS=(
  [full]=""
  [lora-f32]="--set adapter.plugin=lora"
  [lora-bf16]="--set adapter.plugin=lora --set model.dtype=bf16"
  [qlora]="--set adapter.plugin=qlora"
  [qlora-bf16]="--set adapter.plugin=qlora --set model.dtype=bf16"
)
METHODS=(full lora-f32 lora-bf16 qlora qlora-bf16)
declare -A RSS SPEED BASE
for method in "${METHODS[@]}"; do
  run_dir=$WORK/runs/$method
  rm -rf "$run_dir"
  echo "$method ..." >&2
  job=$ROOT/bench/jobs/lora_bench25m.toml
  [[ $method == full ]] && job=$ROOT/bench/jobs/full_bench25m.toml
  # shellcheck disable=SC2086
  if ! /usr/bin/time -v "$FTENGINE" run "$job" ${SETS[$method]} \
      --set model.path="$MODEL" --set data.train="$DATA/train.jsonl" \
      --set output.dir="$run_dir" --set train.max_steps="$STEPS" \
      --set train.checkpointing="$CHECKPOINTING" \
      --set backend.plugin=cpu --set backend.threads="$THREADS" >"$WORK/$method.log" 2>&1; then
    echo "  $method failed; see $WORK/$method.log:" >&2
    grep -m 3 "error" "$WORK/$method.log" | sed 's/^/    /' >&2
    exit 1
  fi
  RSS[$method]=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/$method.log")
  SPEED[$method]=$(median_tokens_per_second "$run_dir/metrics.jsonl" "$WARMUP")
  BASE[$method]=$(sed -n 's/.*base weights of [0-9]* layers[^:]*: \([0-9.]*\) MiB as stored.*/\1/p' \
    "$WORK/$method.log" | head -1)
  [[ -n ${BASE[$method]} ]] || BASE[$method]="-"
done

echo
echo "bench-125m, batch 4 x 256, r 8, AdamW, $THREADS threads, $STEPS steps," \
     "checkpointing $CHECKPOINTING;" \
     "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
printf '%-10s %14s %16s %10s\n' method "peak RSS MiB" "frozen base MiB" "tok/s"
for method in "${METHODS[@]}"; do
  printf '%-10s %14.0f %16s %10s\n' "$method" "$(awk "BEGIN { print ${RSS[$method]} / 1024 }")" \
    "${BASE[$method]}" "${SPEED[$method]}"
done
