# Shared by the bench scripts (source it): a model and the quickstart data made once in a
# work directory, and the median step speed of a run.

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

# find_torch_python: sets PYTHON (unless set) to the first of python3, /usr/bin/python3 that
# imports torch; leaves it empty when none does.
find_torch_python() {
  [[ -n ${PYTHON:-} ]] && return 0
  local candidate
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch' 2>/dev/null; then
      PYTHON=$candidate
      return 0
    fi
  done
}
