#!/usr/bin/env bash
# Training throughput, ftengine vs the stack users actually run: transformers'
# LlamaForCausalLM + PEFT (get_peft_model, LoRA r 8, alpha 16, target_modules "all-linear",
# dropout 0) + torch.optim.AdamW, gradient clipping 1.0, both loading the same
# `ftengine init-model` directory. Batch 4 x 256 tokens, THREADS threads on both sides.
#
#   scripts/setup.sh --bench                # once: PyPI torch, transformers, peft in .venv-bench
#   bench/train_vs_torch.sh                 # after building into build/
#   OMP_WAIT_POLICY=PASSIVE THREADS=2 bench/train_vs_torch.sh
#   SIZES=bench-25m METHODS=lora PRECISIONS=f32 STEPS=3 WARMUP=1 bench/train_vs_torch.sh
#
# Rows: method {lora, full} x precision {f32, bf16} x model {bench-25m, bench-125m}.
#   lora  ftengine's lora adapter on every linear layer but lm_head, which is what PEFT's
#         "all-linear" picks; full: every weight trains, embeddings and lm_head too.
#   bf16  peer: torch.autocast("cpu", bfloat16) around forward and loss; for LoRA the frozen
#         base stored in bf16 (the LoRA weights f32), for full the weights stay f32.
#         ftengine: [train] precision = "bf16" (and model.dtype = "bf16" for LoRA's frozen
#         base), where this ftengine has that key (probed with `ftengine validate`); where it
#         has not, its cells say n/a. "resolved" is the precision ftengine's run log says it
#         computed in (f32 where it has no such key or no AVX512-BF16).
#
# The batch: the quickstart lines joined into documents longer than a row (bench/lib.sh's
# bench_rows); ftengine reads them with packing off and on_overflow "truncate", so each row
# is one document's first 256 tokens, plain causal attention, no padding, 256 targets; the
# peer (bench/torch/peft_bench.py) tokenizes the same file with the model's tokenizer and
# builds the same rows. Each side reports the median step over its STEPS timed steps after
# WARMUP untimed ones: ftengine's from runs/.../metrics.jsonl, the peer's in one JSON line.
#
# Columns: tokens/s of each side and their ratio (ftengine / peer); peak RSS of each side's
# whole process (GNU time's %M, MiB); MFU of each side: achieved FLOP/s over this machine's
# GEMM rate at the row's precision (ftengine: at the precision it resolved to), measured in
# the same run by build/bin/ftengine-bench-gemm-rate (oneDNN matmul, THREADS threads). The
# FLOPs-per-token formula is printed under the table.
#
# Run it on an otherwise idle machine. Where other processes share the cores, OpenMP threads
# that spin while waiting slow both sides several times over; OMP_WAIT_POLICY=PASSIVE in the
# environment reaches both sides and avoids it. The load average is printed with the table.
#
# Environment: FTENGINE (default build/bin/ftengine), GEMM_RATE (default
# build/bin/ftengine-bench-gemm-rate), PYTHON (default .venv-bench/bin/python, the venv
# scripts/setup.sh --bench makes), THREADS (default: all cores), STEPS (timed steps per side,
# default 5), WARMUP (untimed steps per side first, default 2), SIZES (default "bench-25m
# bench-125m"), METHODS (default "lora full"), PRECISIONS (default "f32 bf16"), WORK (models,
# data, runs, logs; default /tmp/ftengine-train-vs-torch, reused between runs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FTENGINE=${FTENGINE:-$ROOT/build/bin/ftengine}
GEMM_RATE=${GEMM_RATE:-$(dirname "$FTENGINE")/ftengine-bench-gemm-rate}
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-5}
WARMUP=${WARMUP:-2}
read -r -a SIZES <<<"${SIZES:-bench-25m bench-125m}"
read -r -a METHODS <<<"${METHODS:-lora full}"
read -r -a PRECISIONS <<<"${PRECISIONS:-f32 bf16}"
WORK=${WORK:-/tmp/ftengine-train-vs-torch}
BATCH=4
SEQ_LEN=256

die() { echo "train_vs_torch: $*" >&2; exit 2; }
[[ -x $FTENGINE ]] || die "$FTENGINE not found; build ftengine first or set FTENGINE"
[[ -x $GEMM_RATE ]] || die "$GEMM_RATE not found; ninja -C build bin/ftengine-bench-gemm-rate"
[[ -x /usr/bin/time ]] || die "needs GNU time for peak RSS (apt-get install time)"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
find_peer_python "$ROOT" train_vs_torch
for size in "${SIZES[@]}"; do bench_inputs "$FTENGINE" "$WORK" "$size"; done
bench_rows "$WORK" "$SEQ_LEN" "$PYTHON"
ROWS=$WORK/data/rows-$SEQ_LEN.jsonl
mkdir -p "$WORK/logs"

# The job both methods share, as train_vs_torch runs it (the job files' data overridden).
job_args() {  # METHOD SIZE RUN_DIR
  echo "$ROOT/bench/jobs/${1}_bench25m.toml" --set model.path="$WORK/$2" \
    --set data.train="$ROWS" --set data.packing=false --set data.on_overflow=truncate \
    --set output.dir="$3" --set train.max_steps="$((WARMUP + STEPS))" \
    --set backend.plugin=cpu --set backend.threads="$THREADS"
}

# Does this ftengine know [train] precision? validate rejects an unknown key (exit 2).
# shellcheck disable=SC2046
if "$FTENGINE" -q validate $(job_args lora "${SIZES[0]}" "$WORK/runs/probe") \
    --set train.precision=f32 >"$WORK/logs/precision-probe.log" 2>&1; then
  HAS_PRECISION=true
else
  HAS_PRECISION=false
fi

echo "gemm rates ($THREADS threads) ..." >&2
"$GEMM_RATE" --threads "$THREADS" >"$WORK/logs/gemm-rate.log"
RATE_F32=$(awk '$1 == "rate" && $2 == "f32" { print $3 }' "$WORK/logs/gemm-rate.log")
RATE_BF16=$(awk '$1 == "rate" && $2 == "bf16" { print $3 }' "$WORK/logs/gemm-rate.log")

peak_rss_mib() { awk 'END { printf "%.0f", $1 / 1024 }' "$1"; }  # GNU time -f %M: KiB

# One line per row into results.tsv, printed as the table at the end:
# size method precision resolved ours_tps ours_rss peer_tps peer_rss
RESULTS=$WORK/results.tsv
: >"$RESULTS"
for size in "${SIZES[@]}"; do
  for method in "${METHODS[@]}"; do
    for precision in "${PRECISIONS[@]}"; do
      row=$size-$method-$precision
      run_dir=$WORK/runs/$row
      log=$WORK/logs/$row.ftengine.log
      ours_tps=n/a ours_rss=n/a resolved=f32
      if [[ $precision == f32 || $HAS_PRECISION == true ]]; then
        extra=()
        if [[ $HAS_PRECISION == true ]]; then
          extra=(--set train.precision="$precision")
          # The peer's LoRA holds its frozen base in bf16 too.
          [[ $precision == bf16 && $method == lora ]] && extra+=(--set model.dtype=bf16)
        fi
        rm -rf "$run_dir"
        echo "ftengine: $row ..." >&2
        # shellcheck disable=SC2046
        if /usr/bin/time -f %M -o "$log.rss" "$FTENGINE" run $(job_args "$method" "$size" "$run_dir") \
            "${extra[@]}" >"$log" 2>&1 && [[ -f $run_dir/metrics.jsonl ]]; then
          ours_tps=$(median_tokens_per_second "$run_dir/metrics.jsonl" "$WARMUP" "$PYTHON")
          ours_rss=$(peak_rss_mib "$log.rss")
          if [[ $HAS_PRECISION == true ]]; then
            # What the run log says it resolved to ("precision: f32, not the bf16 asked
            # for ..."), else the first type named on a line about precision; "?" if none.
            resolved=$(sed -n 's/.*precision[ :=]*\(bf16\|f32\)\b.*/\1/p' "$log" | head -1)
            [[ -n $resolved ]] ||
              resolved=$(grep -i precision "$log" | grep -oE '\b(bf16|f32)\b' | head -1 || true)
            resolved=${resolved:-?}
          fi
        else
          echo "  ftengine run failed; last lines of $log:" >&2
          tail -n 3 "$log" | sed 's/^/    /' >&2
        fi
      fi
      echo "peer: $row ..." >&2
      peer_tps=n/a peer_rss=n/a
      if /usr/bin/time -f %M -o "$WORK/logs/$row.peer.rss" "$PYTHON" \
          "$ROOT/bench/torch/peft_bench.py" --model "$WORK/$size" --data "$ROWS" \
          --method "$method" --precision "$precision" --threads "$THREADS" --batch "$BATCH" \
          --seq-len "$SEQ_LEN" --r 8 --alpha 16 --warmup "$WARMUP" --steps "$STEPS" \
          >"$WORK/logs/$row.peer.json" 2>"$WORK/logs/$row.peer.log"; then
        peer_tps=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["tokens_per_second"])' \
          "$WORK/logs/$row.peer.json")
        peer_rss=$(peak_rss_mib "$WORK/logs/$row.peer.rss")
      else
        echo "  peer failed; last lines of $WORK/logs/$row.peer.log:" >&2
        tail -n 3 "$WORK/logs/$row.peer.log" | sed 's/^/    /' >&2
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$method" "$precision" "$resolved" \
        "$ours_tps" "$ours_rss" "$peer_tps" "$peer_rss" >>"$RESULTS"
    done
  done
done

# The table, MFU and targets: arithmetic in Python, the same interpreter as the peer.
echo
BENCH_DIR="$ROOT/bench" "$PYTHON" - "$RESULTS" "$WORK" "$THREADS" "$STEPS" "$WARMUP" "$RATE_F32" "$RATE_BF16" \
    "$HAS_PRECISION" "$BATCH" "$SEQ_LEN" <<'PY'
import json, os, platform, sys
import torch, transformers, peft
sys.path.insert(0, os.path.join(os.environ["BENCH_DIR"], "torch"))
import machine

results, work, threads, steps, warmup, rate_f32, rate_bf16, has_precision, batch, seq = sys.argv[1:]
seq = int(seq)
rates = {"f32": rate_f32, "bf16": rate_bf16}

def flops_per_token(size, method):
    """GEMM FLOPs per trained token (see the formula printed below)."""
    c = json.load(open(os.path.join(work, size, "config.json")))
    C, L, I, V = c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"], c["vocab_size"]
    head_dim = c.get("head_dim") or C // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * head_dim, c["num_key_value_heads"] * head_dim
    n = L * (C * q + 2 * C * kv + q * C + 3 * C * I) + C * V  # block linears + lm_head
    return (4 if method == "lora" else 6) * n + 12 * L * seq * C, n

def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)

def num(s):
    return None if s in ("n/a", "", "?") else float(s)

bf16_isa = "avx512_bf16" in machine.cpu()[1]
print(f"Training throughput, ftengine vs transformers {transformers.__version__} + peft "
      f"{peft.__version__} on torch {torch.__version__}; batch {batch} x {seq} tokens, AdamW, "
      f"clipping 1.0, {threads} threads, median of {steps} steps after {warmup}")
print(f"machine: {machine.describe()}; load average {os.getloadavg()[0]:.2f} at the end; "
      f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
print(f"GEMM rate (oneDNN, {threads} threads, faster of 1024x1536x512 and 1024x2048x768): "
      f"f32 {rate_f32} GFLOP/s, bf16 {rate_bf16} GFLOP/s")
if not bf16_isa and rate_bf16 != "n/a":
    print("  (no AVX512-BF16: that bf16 rate is oneDNN's emulation; torch's newer oneDNN can beat "
          "it, so a peer bf16 MFU over 100% is possible)")
if "amx_bf16" in machine.cpu()[1] and rate_bf16 != "n/a":
    print("  (AMX-BF16: that bf16 rate is AMX tiles', several times f32's, so a bf16 step's "
          "non-GEMM work (attention, elementwise, operand packing) weighs far more in its MFU)")
print()
head = ("model", "method", "prec", "resolved", "ftengine tok/s", "peer tok/s", "ratio",
        "ftengine MiB", "peer MiB", "ftengine MFU", "peer MFU", "target")
widths = (10, 6, 4, 8, 14, 10, 5, 12, 8, 12, 8, 0)
line = lambda cells: "  ".join(f"{c:>{w}}" if w else str(c) for c, w in zip(cells, widths))
print(line(head))
for row in open(results):
    size, method, prec, resolved, ours, ours_rss, theirs, their_rss = row.rstrip("\n").split("\t")
    ours, theirs = num(ours), num(theirs)
    fpt, _ = flops_per_token(size, method)
    ratio = ours / theirs if ours and theirs else None
    def mfu(tps, p):
        rate = num(rates.get(p, "n/a"))
        return None if tps is None or rate is None else 100 * tps * fpt / (rate * 1e9)
    ours_mfu = mfu(ours, resolved if resolved in rates else prec)
    their_mfu = mfu(theirs, prec)
    # Targets: ratio >= 1.5 (LoRA) or 1.3 (full); bf16 LoRA also >= 70% of the bf16 rate.
    need = 1.5 if method == "lora" else 1.3
    # A row whose ftengine side fell back to f32 compares nothing like with like.
    same = resolved == prec
    checks = [(f">={need}x", None if ratio is None or not same else ratio >= need)]
    if method == "lora" and prec == "bf16":  # only meaningful where ftengine computed in bf16
        checks.append((">=70% bf16", None if ours_mfu is None or resolved != "bf16" else ours_mfu >= 70))
    state = {None: "n/a", True: "met", False: "not met"}
    target = ", ".join(f"{name} {state[ok]}" for name, ok in checks)
    pct = lambda x: fmt(x, ".1f") + ("%" if x is not None else "")
    ours_cells = (fmt(ours, ".1f"), fmt(ratio, ".2f"), ours_rss, pct(ours_mfu))
    if prec != "f32" and has_precision != "true":
        ours_cells = ("n/a*",) * 4  # not run: see the footnote
    print(line((size, method, prec, resolved, ours_cells[0], fmt(theirs, ".1f"), ours_cells[1],
                ours_cells[2], their_rss, ours_cells[3], pct(their_mfu), target)))
if has_precision != "true" and "bf16" in {r.split("\t")[2] for r in open(results)}:
    print("* n/a (this ftengine has no train.precision)")
print()
for size in sorted({r.split("\t")[0] for r in open(results)}):
    fpt_lora, n = flops_per_token(size, "lora")
    print(f"{size}: N = {n / 1e6:.1f}M GEMM weights (every block linear + lm_head; embeddings "
          f"and LoRA's A, B not counted); {fpt_lora / 1e6:.0f} MFLOP/token LoRA, "
          f"{flops_per_token(size, 'full')[0] / 1e6:.0f} MFLOP/token full")
print("FLOPs per token: 6N full, 4N LoRA (forward 2N, backward to the inputs 2N, no weight "
      "gradients for the frozen base), plus attention 12 x layers x seq x hidden (QK^T and AV, "
      "forward and backward, the causal half not subtracted, as PaLM's MFU counts it).")
print("MFU = tokens/s x FLOPs per token / GEMM rate at the row's precision (ftengine: at the "
      "precision it resolved to).")
print("targets: ftengine >= 1.5x peer for LoRA, >= 1.3x for full, bf16 LoRA >= 70% of the bf16 "
      "GEMM rate; each row's target column says met / not met, n/a where ftengine resolved "
      "another precision than the row's (no fast bf16 here).")
PY
