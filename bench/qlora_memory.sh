#!/usr/bin/env bash
# Memory and speed of the fine-tuning methods side by side (issue: QLoRA): the bench-125m
# Llama (ftengine init-model), batch 4 x 256 tokens, r 8 on every linear layer but lm_head,
# AdamW, each method with activation checkpointing off and on.
#
#   bench/qlora_memory.sh                  # after building into build/
#   FTENGINE=... THREADS=2 STEPS=6 bench/qlora_memory.sh
#   PRESET=bench-1b METHODS="lora-f32 qlora qlora-bf16" STEPS=3 WARMUP=1 bench/qlora_memory.sh
#                                          # the same at TinyLlama-1.1B's shape (4.4 GB f32)
#
# Methods:
#   full        full fine-tuning, f32
#   lora-f32    LoRA on the f32 base
#   lora-bf16   LoRA on a bf16 base (the same weights stored in bf16, as published
#               checkpoints are)
#   qlora       QLoRA (NF4, double-quantised, block 64); embeddings, lm_head and norms f32
#   qlora-bf16  QLoRA on the bf16 checkpoint; embeddings, lm_head and norms bf16 (the usual
#               QLoRA recipe: bnb_4bit_compute_dtype and torch_dtype bf16)
#   torch-lora  transformers + PEFT f32 LoRA, bench/torch/peft_bench.py, the peer of
#               bench/train_vs_torch.sh (when .venv-bench or PYTHON imports torch,
#               transformers and peft: scripts/setup.sh --bench); checkpointing on is
#               transformers' gradient_checkpointing_enable(); it reads bench_rows' whole
#               documents (the same shapes; it has no per-document attention for packed rows)
#
# For each: peak resident memory of the whole process (GNU time's "Maximum resident set
# size", as /usr/bin/time -v reports it), the frozen base's bytes as stored (the adapter's
# log line) and the median tokens/s of the steps after the first WARMUP; then the ratios the
# QLoRA issue sets targets for. Run it on an otherwise idle machine.
#
# Environment: FTENGINE, PYTHON (default .venv-bench/bin/python), THREADS (default: all cores), STEPS (default 6), WARMUP
# (default 2), PRESET (default bench-125m), METHODS (default all of the above that can run),
# WORK (default /tmp/ftengine-qlora-bench, reused).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FTENGINE=${FTENGINE:-$ROOT/build/bin/ftengine}
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-6}
WARMUP=${WARMUP:-2}
WORK=${WORK:-/tmp/ftengine-qlora-bench}
PRESET=${PRESET:-bench-125m}
[[ -x $FTENGINE ]] || { echo "qlora_memory: $FTENGINE not found; build first" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "qlora_memory: needs GNU time (apt-get install time)" >&2; exit 2; }

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
find_peer_python "$ROOT"
bench_inputs "$FTENGINE" "$WORK" "$PRESET"
bench_inputs "$FTENGINE" "$WORK" "$PRESET" bf16
[[ -n ${PYTHON:-} ]] && bench_rows "$WORK" 256 "$PYTHON"
DATA=$WORK/data

declare -A SETS=(
  [full]=""
  [lora-f32]="--set adapter.plugin=lora"
  [lora-bf16]="--set adapter.plugin=lora --set model.dtype=bf16"
  [qlora]="--set adapter.plugin=qlora"
  [qlora-bf16]="--set adapter.plugin=qlora --set model.dtype=bf16"
)
read -r -a METHODS <<<"${METHODS:-full lora-f32 lora-bf16 qlora qlora-bf16 torch-lora}"
[[ -n ${PYTHON:-} ]] || METHODS=("${METHODS[@]/torch-lora/}")
declare -A RSS SPEED BASE

max_rss_mib() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }

for checkpointing in false true; do
  for method in "${METHODS[@]}"; do
    [[ -z $method || $method == torch-lora ]] && continue
    key=$method/$checkpointing
    run_dir=$WORK/runs/$method-$checkpointing
    log=$WORK/$method-$checkpointing.log
    rm -rf "$run_dir"
    echo "$method, checkpointing $checkpointing ..." >&2
    job=$ROOT/bench/jobs/lora_bench25m.toml
    [[ $method == full ]] && job=$ROOT/bench/jobs/full_bench25m.toml
    model=$WORK/$PRESET
    [[ $method == *-bf16 ]] && model=$WORK/$PRESET-bf16
    # shellcheck disable=SC2086
    if ! /usr/bin/time -v "$FTENGINE" run "$job" ${SETS[$method]} \
        --set model.path="$model" --set data.train="$DATA/train.jsonl" \
        --set output.dir="$run_dir" --set train.max_steps="$STEPS" \
        --set train.checkpointing="$checkpointing" \
        --set backend.plugin=cpu --set backend.threads="$THREADS" >"$log" 2>&1; then
      echo "  $method failed; see $log:" >&2
      grep -m 3 "error" "$log" | sed 's/^/    /' >&2
      exit 1
    fi
    RSS[$key]=$(max_rss_mib "$log")
    SPEED[$key]=$(median_tokens_per_second "$run_dir/metrics.jsonl" "$WARMUP")
    BASE[$method]=$(sed -n 's/.*base weights of [0-9]* layers[^:]*: \([0-9.]*\) MiB as stored.*/\1/p' \
      "$log" | head -1)
    [[ -n ${BASE[$method]} ]] || BASE[$method]="-"
  done
  if [[ " ${METHODS[*]} " == *" torch-lora "* ]]; then
    key=torch-lora/$checkpointing
    log=$WORK/torch-lora-$checkpointing.log
    echo "torch-lora, checkpointing $checkpointing ..." >&2
    flag=()
    [[ $checkpointing == true ]] && flag=(--checkpointing)
    /usr/bin/time -v "$PYTHON" "$ROOT/bench/torch/peft_bench.py" --model "$WORK/$PRESET" \
      --data "$WORK/data/rows-256.jsonl" --method lora --threads "$THREADS" \
      --warmup "$WARMUP" --steps "$((STEPS - WARMUP))" "${flag[@]}" >"$log" 2>&1
    RSS[$key]=$(max_rss_mib "$log")
    SPEED[$key]=$("$PYTHON" -c 'import json, sys
print(next(json.loads(l) for l in open(sys.argv[1]) if l.startswith("{"))["tokens_per_second"])' "$log")
    BASE[torch-lora]="-"
  fi
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "$PRESET, batch 4 x 256, r 8, AdamW, $THREADS threads, $STEPS steps;" \
     "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
printf '%-11s %16s | %13s %8s | %13s %8s\n' "" "" "checkpointing" "off" "checkpointing" "on"
printf '%-11s %16s | %13s %8s | %13s %8s\n' method "frozen base MiB" "peak RSS MiB" tok/s \
  "peak RSS MiB" tok/s
for method in "${METHODS[@]}"; do
  [[ -n $method ]] || continue
  printf '%-11s %16s | %13s %8s | %13s %8s\n' "$method" "${BASE[$method]}" \
    "${RSS[$method/false]}" "${SPEED[$method/false]}" "${RSS[$method/true]}" \
    "${SPEED[$method/true]}"
done
echo
echo "against lora-f32 (targets: frozen base <= 0.15, peak RSS <= 0.5, tok/s >= 0.7):"
for method in qlora qlora-bf16; do
  [[ " ${METHODS[*]} " == *" $method "* && " ${METHODS[*]} " == *" lora-f32 "* ]] || continue
  printf '  %-10s frozen base %s; peak RSS %s off, %s on; tok/s %s off, %s on\n' "$method" \
    "$(ratio "${BASE[$method]}" "${BASE[lora-f32]}")" \
    "$(ratio "${RSS[$method/false]}" "${RSS[lora-f32/false]}")" \
    "$(ratio "${RSS[$method/true]}" "${RSS[lora-f32/true]}")" \
    "$(ratio "${SPEED[$method/false]}" "${SPEED[lora-f32/false]}")" \
    "$(ratio "${SPEED[$method/true]}" "${SPEED[lora-f32/true]}")"
done
