# shellcheck shell=bash
# Shared by the bench scripts (source it): a model and the quickstart data made once in a
# work directory, rows of whole documents for comparing a step with a peer, and the median
# step speed of a run.

# bench_inputs FTENGINE WORK PRESET [DTYPE]: $WORK/$PRESET (ftengine init-model; with DTYPE,
# $WORK/$PRESET-$DTYPE, the same weights stored in DTYPE) and $WORK/data (ftengine init-data
# --preset quickstart), made unless already there.
bench_inputs() {
  local ftengine=$1 work=$2 preset=$3 dtype=${4:-}
  local dir=$work/$preset${dtype:+-$dtype}
  mkdir -p "$work"
  [[ -f $dir/model.safetensors ]] ||
    "$ftengine" -q init-model --preset "$preset" --out "$dir" ${dtype:+--dtype "$dtype"} >/dev/null
  [[ -f $work/data/train.jsonl ]] ||
    "$ftengine" -q init-data --preset quickstart --out "$work/data" >/dev/null
}

# bench_rows WORK SEQ_LEN [PYTHON]: $WORK/data/rows-$SEQ_LEN.jsonl, the quickstart train
# lines joined into documents of at least 2 x SEQ_LEN bytes (made unless already there).
# With packing off and on_overflow "truncate", ftengine makes each document one full row:
# BOS and its first SEQ_LEN - 1 bytes, plain causal attention, positions 0..SEQ_LEN-1 and no
# padding, SEQ_LEN targets (the last one is the token after the row): the batch a
# transformers peer builds from the same file (its tokenizer adds the BOS). Packed quickstart
# lines would need per-document attention masks on the peer's side instead.
bench_rows() {
  local work=$1 seq_len=$2
  [[ -f $work/data/rows-$seq_len.jsonl ]] && return 0
  "${3:-python3}" - "$work/data/train.jsonl" "$work/data/rows-$seq_len.jsonl" "$seq_len" <<'PY'
import json, os, sys
src, dst, seq_len = sys.argv[1], sys.argv[2], int(sys.argv[3])
docs, doc = [], ""
for line in open(src):
    if line.strip():
        doc = f"{doc} {json.loads(line)['text']}" if doc else json.loads(line)["text"]
        if len(doc.encode()) >= 2 * seq_len:
            docs.append(doc)
            doc = ""
with open(dst + ".tmp", "w") as f:
    for d in docs:
        f.write(json.dumps({"text": d}) + "\n")
os.replace(dst + ".tmp", dst)
PY
}

# median_tokens_per_second METRICS_JSONL WARMUP [PYTHON]: the median "tokens_per_second" of
# the step records after the first WARMUP (eval records skipped), or n/a.
median_tokens_per_second() {
  "${3:-python3}" - "$1" "$2" <<'PY'
import json, statistics, sys
steps = [json.loads(l)["tokens_per_second"] for l in open(sys.argv[1])
         if l.strip() and '"loss"' in l]
timed = steps[int(sys.argv[2]):]
print(f"{statistics.median(timed):.1f}" if timed else "n/a")
PY
}

# find_peer_python ROOT [NAME]: sets PYTHON (unless set) to ROOT/.venv-bench/bin/python, the
# venv `scripts/setup.sh --bench` fills with PyPI's torch, transformers and peft. When that
# python cannot import them: with NAME (the script), exits 2 saying so; without, empties
# PYTHON (the caller skips its peer rows).
find_peer_python() {
  PYTHON=${PYTHON:-$1/.venv-bench/bin/python}
  "$PYTHON" -c 'import torch, transformers, peft' 2>/dev/null && return 0
  if [[ -n ${2:-} ]]; then
    echo "$2: $PYTHON cannot import torch, transformers and peft; run scripts/setup.sh" \
      "--bench or set PYTHON" >&2
    exit 2
  fi
  PYTHON=
}
