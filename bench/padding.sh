#!/usr/bin/env bash
# What padding costs in LoRA fine-tuning on instruction data, and what ftengine's ways around
# it buy: tokens trained per second (real tokens, not padding) and time per epoch on
# alpaca_en_demo.json (999 examples, ../shared/testdata), seq_len 1024, batch 4, LoRA r 8,
# alpha 16 on every linear layer but lm_head, AdamW lr 1e-4, clipping 1.0, f32, THREADS
# threads, on bench-25m and bench-125m (`ftengine init-model --preset`, byte tokenizer), for:
#
#   (a) padded    every row padded to seq_len and computed in full: an ftengine from before
#                 batches were trimmed (commit 44a4414), given as FTENGINE_OLD, packing off;
#                 it also lacks whatever else got faster since. n/a without FTENGINE_OLD.
#   (b) trimmed   this ftengine, data.packing = false: each micro-batch cut to its longest
#                 row (rounded up to a multiple of an eighth of its power of two).
#   (c) packed    this ftengine, the job's defaults: Alpaca data packs (per-document
#                 attention, exact). The default job; the target is on this row.
#   (d) grouped   this ftengine, packing off and data.group_by_length = true (rows of similar
#                 length batched together); n/a where this ftengine refuses the key.
#   (e) peer      transformers' LlamaForCausalLM + PEFT LoRA, each batch padded to its longest
#                 row by DataCollatorForSeq2Seq (labels -100 on padding and prompt), the rows
#                 in a seeded random order (bench/torch/padding_peer.py). It renders the
#                 Alpaca template and masks the loss as ftengine does; both sides' input and
#                 trained-token counts are printed so a mismatch shows.
#
#   bench/padding.sh                                         # after building into build/
#   FTENGINE_OLD=/work/wt-old/build/bin/ftengine OMP_WAIT_POLICY=PASSIVE THREADS=2 bench/padding.sh
#   SIZES=bench-25m STEPS=4 WARMUP=1 bench/padding.sh
#
# An old binary for (a): git worktree add ../wt-old 44a4414 && cmake -S ../wt-old -B
# ../wt-old/build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C ../wt-old/build bin/ftengine
# (its plugins too: ninja -C ../wt-old/build).
#
# How: each mode runs WARMUP untimed steps and then STEPS timed ones, from the start of an
# epoch; a step's time is ftengine's own (metrics.jsonl: tokens / tokens_per_second), the
# peer's is measured around forward, backward, clipping and the optimizer step. A whole epoch
# would take too long, so its time is extrapolated from the timed steps:
#   (a), (b), (c), (e)  epoch time = mean step time x steps per epoch. Their rows come in a
#                  random order, so the timed steps are a sample of the epoch's batches
#                  (few of them: the sampling error of (b) and (e), whose steps differ in
#                  length, is larger than that of (a) and (c), whose steps are all full).
#   (d)            group_by_length puts its epoch's longest rows first, so the timed steps
#                  are no sample of the epoch: epoch time = the epoch's real tokens / the
#                  timed steps' tokens per second (those steps hold little padding, as the
#                  rest of the epoch does; shorter rows' steps have more fixed cost a token,
#                  so this leans optimistic).
# Steps per epoch = ceil(rows / 4), rows being examples (unpacked) or packed rows. Tokens per
# second = real input tokens of the timed steps / their time.
#
# Run it on an otherwise idle machine; where other processes share the cores, OpenMP threads
# that spin while waiting slow both sides several times over: OMP_WAIT_POLICY=PASSIVE in the
# environment reaches both sides and avoids it. The load average is printed with the tables.
#
# Environment: FTENGINE (default build/bin/ftengine), FTENGINE_OLD (mode (a); unset: n/a),
# PYTHON (default .venv-bench/bin/python, the venv scripts/setup.sh --bench makes), THREADS
# (default: all cores), STEPS (timed steps per mode, default 8), WARMUP (untimed steps first,
# default 2), SIZES (default "bench-25m bench-125m"), DATA (default
# ../shared/testdata/datasets/llamafactory/alpaca_en_demo.json), WORK (models, runs, logs;
# default /tmp/ftengine-padding, reused between runs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FTENGINE=${FTENGINE:-$ROOT/build/bin/ftengine}
FTENGINE_OLD=${FTENGINE_OLD:-}
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-8}
WARMUP=${WARMUP:-2}
read -r -a SIZES <<<"${SIZES:-bench-25m bench-125m}"
DATA=${DATA:-$ROOT/../shared/testdata/datasets/llamafactory/alpaca_en_demo.json}
WORK=${WORK:-/tmp/ftengine-padding}
JOB=$ROOT/bench/jobs/lora_alpaca_padding.toml
BATCH=4
SEQ_LEN=1024

die() { echo "padding: $*" >&2; exit 2; }
[[ -x $FTENGINE ]] || die "$FTENGINE not found; build ftengine first or set FTENGINE"
[[ -z $FTENGINE_OLD || -x $FTENGINE_OLD ]] || die "FTENGINE_OLD=$FTENGINE_OLD is not an executable"
[[ -f $DATA ]] || die "$DATA not found (the shared test data); set DATA"
((STEPS >= 1 && WARMUP >= 0)) || die "STEPS must be at least 1, WARMUP at least 0"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
find_peer_python "$ROOT" padding
for size in "${SIZES[@]}"; do bench_inputs "$FTENGINE" "$WORK" "$size"; done
mkdir -p "$WORK/logs" "$WORK/runs"

# The job as every ftengine mode runs it; the mode's own keys follow (--set ...).
job_args() {  # SIZE RUN_DIR
  echo "$JOB" --set model.path="$WORK/$1" --set data.train="$DATA" \
    --set data.seq_len="$SEQ_LEN" --set train.batch_size="$BATCH" \
    --set train.max_steps="$((WARMUP + STEPS))" --set train.precision=f32 \
    --set output.dir="$2" --set backend.plugin=cpu --set backend.threads="$THREADS"
}

# Does this ftengine know data.group_by_length? validate rejects an unknown key (exit 2).
# shellcheck disable=SC2046
if "$FTENGINE" -q validate $(job_args "${SIZES[0]}" "$WORK/runs/probe") --set data.packing=false \
    --set data.group_by_length=true >"$WORK/logs/group-probe.log" 2>&1; then
  HAS_GROUP=true
else
  HAS_GROUP=false
fi

# run_mode SIZE MODE BINARY KEY=VALUE...: the data report ($WORK/logs/SIZE-MODE.data.log) and
# the run ($WORK/runs/SIZE-MODE/metrics.jsonl); a failure leaves the metrics out (n/a).
run_mode() {
  local size=$1 mode=$2 binary=$3 sets=() kv
  shift 3
  for kv in "$@"; do sets+=(--set "$kv"); done
  local run_dir=$WORK/runs/$size-$mode log=$WORK/logs/$size-$mode
  rm -rf "$run_dir"
  echo "ftengine ($mode): $size ..." >&2
  # shellcheck disable=SC2046
  if "$binary" -q data $(job_args "$size" "$run_dir") "${sets[@]}" >"$log.data.log" 2>&1 &&
      "$binary" run $(job_args "$size" "$run_dir") "${sets[@]}" >"$log.run.log" 2>&1; then
    return 0
  fi
  echo "  ftengine ($mode) failed; last lines of $log.*.log:" >&2
  tail -n 3 "$log.data.log" "$log.run.log" 2>/dev/null | sed 's/^/    /' >&2
  rm -f "$run_dir/metrics.jsonl"
}

for size in "${SIZES[@]}"; do
  rm -f "$WORK/logs/$size-"*
  if [[ -n $FTENGINE_OLD ]]; then
    run_mode "$size" padded "$FTENGINE_OLD" data.packing=false
  fi
  run_mode "$size" trimmed "$FTENGINE" data.packing=false
  run_mode "$size" packed "$FTENGINE"
  if [[ $HAS_GROUP == true ]]; then
    run_mode "$size" grouped "$FTENGINE" data.packing=false data.group_by_length=true
  fi
  echo "peer: $size ..." >&2
  if ! "$PYTHON" "$ROOT/bench/torch/padding_peer.py" --model "$WORK/$size" --data "$DATA" \
      --seq-len "$SEQ_LEN" --batch "$BATCH" --threads "$THREADS" --r 8 --alpha 16 --lr 1e-4 \
      --grad-clip 1.0 --warmup "$WARMUP" --steps "$STEPS" \
      >"$WORK/logs/$size-peer.json" 2>"$WORK/logs/$size-peer.log"; then
    echo "  peer failed; last lines of $WORK/logs/$size-peer.log:" >&2
    tail -n 3 "$WORK/logs/$size-peer.log" | sed 's/^/    /' >&2
    rm -f "$WORK/logs/$size-peer.json"
  fi
done

version() { "$1" --version 2>/dev/null | head -1 || echo "?"; }
OURS_VERSION="$(version "$FTENGINE") ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?))"
OLD_VERSION=n/a
if [[ -n $FTENGINE_OLD ]]; then
  old_root=$(cd "$(dirname "$FTENGINE_OLD")" && git rev-parse --short HEAD 2>/dev/null || echo "?")
  OLD_VERSION="$(version "$FTENGINE_OLD") ($old_root, $FTENGINE_OLD)"
fi

# The tables and the targets: arithmetic in Python, the same interpreter as the peer.
echo
BENCH_DIR="$ROOT/bench" "$PYTHON" - "$WORK" "$THREADS" "$STEPS" "$WARMUP" "$BATCH" "$SEQ_LEN" "$DATA" "$HAS_GROUP" \
    "$OURS_VERSION" "$OLD_VERSION" "${FTENGINE_OLD:+set}" "${SIZES[@]}" <<'PY'
import json, math, os, re, sys
import torch, transformers, peft
sys.path.insert(0, os.path.join(os.environ["BENCH_DIR"], "torch"))
import machine

(work, threads, steps, warmup, batch, seq, data, has_group, ours_version, old_version,
 old_set, *sizes) = sys.argv[1:]
steps, warmup, batch = int(steps), int(warmup), int(batch)

def data_report(size, mode):
    """rows, input tokens, trained tokens from `ftengine data` (None where it failed)."""
    path = os.path.join(work, "logs", f"{size}-{mode}.data.log")
    if not os.path.exists(path):
        return None
    text = open(path).read()
    trained = re.search(r"^trained tokens: (\d+) of (\d+)", text, re.M)
    rows = re.search(r"^sequences: (\d+) of", text, re.M)
    if not trained or not rows:
        return None
    return {"rows": int(rows.group(1)), "input_tokens": int(trained.group(2)),
            "target_tokens": int(trained.group(1))}

def ours(size, mode):
    """The timed steps of one ftengine mode: their real tokens and seconds, or None."""
    path = os.path.join(work, "runs", f"{size}-{mode}", "metrics.jsonl")
    report = data_report(size, mode)
    if not os.path.exists(path) or report is None:
        return None
    records = [json.loads(l) for l in open(path) if l.strip() and '"loss"' in l]
    timed = records[warmup:]
    if not timed:
        return None
    return dict(report, real=[r["tokens"] for r in timed],
                seconds=[r["tokens"] / r["tokens_per_second"] for r in timed])

def peer(size):
    path = os.path.join(work, "logs", f"{size}-peer.json")
    if not os.path.exists(path):
        return None
    p = json.load(open(path))
    return dict(p, real=p["real_tokens"], seconds=p["step_s"])

def figures(m, by_tokens):
    """steps per epoch, real tokens per step (epoch mean, timed mean), tokens/s, epoch s."""
    epoch_steps = math.ceil(m["rows"] / batch)
    tps = sum(m["real"]) / sum(m["seconds"])
    if by_tokens:
        epoch_s = m["input_tokens"] / tps
    else:
        epoch_s = sum(m["seconds"]) / len(m["seconds"]) * epoch_steps
    return (epoch_steps, m["input_tokens"] / epoch_steps, sum(m["real"]) / len(m["real"]),
            tps, epoch_s)

MODES = [  # key, label, epoch time from tokens (else from steps), why n/a
    ("padded", "(a) padded to seq_len, ftengine 44a4414", False, "n/a (set FTENGINE_OLD)"),
    ("trimmed", "(b) trimmed batches, packing off", False, "n/a (run failed)"),
    ("packed", "(c) packing (default job)", False, "n/a (run failed)"),
    ("grouped", "(d) group_by_length, packing off", True,
     "n/a (this ftengine refuses data.group_by_length)"),
    ("peer", "(e) transformers + PEFT, pad to longest", False, "n/a (peer failed)"),
]

print(f"Padding: LoRA (r 8, alpha 16, all linear but lm_head) on {os.path.basename(data)}, "
      f"seq_len {seq}, batch {batch}, AdamW lr 1e-4, clipping 1.0, f32, {threads} threads; "
      f"{steps} timed steps after {warmup} per mode, from the start of an epoch")
print(f"machine: {machine.describe()}; "
      f"THREADS={threads}; load average {os.getloadavg()[0]:.2f} at the end; "
      f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
print(f"versions: {ours_version}; (a): {old_version}; peer: transformers "
      f"{transformers.__version__} + peft {peft.__version__} on torch {torch.__version__}")
targets = []
for size in sizes:
    print()
    print(f"{size}:")
    head = ("mode", "rows/epoch", "steps/epoch", "real tok/step", "timed tok/step", "tokens/s",
            "epoch s", "peer/ours")
    widths = (40, 10, 11, 13, 14, 8, 8, 9)
    line = lambda cells: "  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(head))
    p = peer(size)
    peer_epoch = figures(p, False)[4] if p else None
    rows = {}
    for key, label, by_tokens, why in MODES:
        m = p if key == "peer" else ours(size, key)
        if m is None:
            if key == "padded" and old_set:
                why = "n/a (run failed)"
            print(line((label, why, "", "", "", "", "", "")))
            continue
        epoch_steps, epoch_tok, timed_tok, tps, epoch_s = rows[key] = figures(m, by_tokens)
        ratio = f"{peer_epoch / epoch_s:.2f}" if peer_epoch else "n/a"
        print(line((label, m["rows"], epoch_steps, f"{epoch_tok:.0f}", f"{timed_tok:.0f}",
                    f"{tps:.1f}", f"{epoch_s:.0f}", ratio)))
    # The two sides' data, which must agree for the comparison to be fair.
    t = data_report(size, "trimmed")
    if t and p:
        same = all(t[k] == p[k] for k in ("rows", "input_tokens", "target_tokens"))
        print(f"  data, unpacked: ftengine {t['rows']} rows, {t['input_tokens']} input tokens, "
              f"{t['target_tokens']} trained; peer {p['rows']} rows, {p['input_tokens']} input "
              f"tokens, {p['target_tokens']} trained: {'same' if same else 'MISMATCH'}")
    c = data_report(size, "packed")
    if c:
        print(f"  data, packed: {c['rows']} rows of {seq}, {c['input_tokens']} input tokens, "
              f"{c['target_tokens']} trained")
    if p:
        print(f"  peer: attention {p['attention']}, padded lengths of the timed steps "
              f"{p['padded_length']}, loss {p['loss_first']} -> {p['loss_last']}")
    if "packed" in rows and peer_epoch:
        ratio = peer_epoch / rows["packed"][4]
        targets.append(f"{size}: {ratio:.2f}x, {'met' if ratio >= 1.5 else 'not met'}")
    else:
        targets.append(f"{size}: n/a")

print()
print("epoch s: extrapolated from the timed steps, not a whole epoch run: (a), (b), (c), (e) "
      "mean step time x steps/epoch (the timed steps a random sample of the epoch's batches); "
      "(d) the epoch's real tokens / tokens/s (its timed steps hold the epoch's longest rows, "
      "so are no sample of it).")
print("real tok/step: the epoch's real input tokens / steps per epoch; timed tok/step: the "
      "mean over the timed steps. tokens/s: real input tokens of the timed steps / their time. "
      "peer/ours: the peer's epoch time / this mode's.")
print("target: default job (c) >= 1.5x the peer's epoch time: " + "; ".join(targets))
PY
