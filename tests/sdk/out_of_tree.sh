#!/usr/bin/env bash
# The SDK as a third party uses it, outside the source tree:
#   1. `cmake --install` of this build into a temporary prefix, and its layout;
#   2. the DoRA example (sdk/examples/dora), copied out of the tree, configured and built
#      against that prefix with find_package(ftengine);
#   3. the guide's snippets (docs/plugin-sdk.md): built with CMake, and with pkg-config, its
#      gradient check run;
#   4. the installed ftengine with --plugin-dir: `plugins` lists dora with its path and
#      version; a DoRA run on stories260K-hf lowers the eval loss; the adapter is PEFT's
#      DoRA layout; `eval --adapter` gives the loss the run reported; `merge` gives the same
#      model, whose weights match DoRA's formula in numpy; the guide's adapter trains too;
#   5. `cmake --install` of the example into the prefix: found without --plugin-dir.
#
#   out_of_tree.sh BUILD_DIR SOURCE_DIR TESTDATA_DIR      (ctest runs it: Sdk.OutOfTree)
# Exit 77 (skipped) when the test data is absent.
set -euo pipefail

BUILD=$1 SOURCE=$2 TESTDATA=$3
MODEL=$TESTDATA/models/stories260K-hf
NOVEL=$TESTDATA/datasets/text/botchan.txt
if [[ ! -f $MODEL/model.safetensors || ! -f $NOVEL ]]; then
  echo "skipped: test data absent ($MODEL, $NOVEL)"
  exit 77
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ftengine-sdk-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PREFIX=$WORK/prefix
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "install into $PREFIX"
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
for f in bin/ftengine include/ftengine/adapter.hpp include/ftengine/conformance.hpp \
         lib/libftengine_sdk.so lib/ftengine/plugins/libftengine-adapter-lora.so \
         lib/ftengine/plugins/libftengine-backend-cpu.so lib/cmake/ftengine/ftengineConfig.cmake \
         lib/cmake/ftengine/ftengineConfigVersion.cmake lib/cmake/ftengine/FtenginePlugin.cmake \
         lib/pkgconfig/ftengine.pc; do
  [[ -e $PREFIX/$f ]] || fail "the install has no $f"
done
[[ $(ls "$PREFIX/include") == ftengine ]] || fail "include/ holds more than ftengine/: $(ls "$PREFIX/include")"
[[ ! -e $PREFIX/include/engine ]] || fail "engine internals installed"
soname=$(readelf -d "$PREFIX/lib/libftengine_sdk.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libftengine_sdk.so.0.1 ]] || fail "SONAME is '$soname'"
[[ -f $PREFIX/lib/$soname ]] || fail "no $soname"

step "DoRA example, built outside the tree"
cp -r "$SOURCE/sdk/examples/dora" "$WORK/dora"
cmake -S "$WORK/dora" -B "$WORK/dora-build" "${GENERATOR[@]}" -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$WORK/dora-build" >/dev/null
DORA_DIR=$WORK/dora-build/plugins
[[ -f $DORA_DIR/libftengine-adapter-dora.so ]] || fail "the example built no plugin"

step "the guide's snippets, with CMake and with pkg-config"
python3 "$SOURCE/tests/sdk/snippets.py" "$SOURCE/docs/plugin-sdk.md" "$WORK/guide" >/dev/null
cmake -S "$WORK/guide" -B "$WORK/guide-build" "${GENERATOR[@]}" -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$WORK/guide-build" >/dev/null
check=$("$WORK/guide-build/check_scale") || fail "the guide's gradient check: $check"
[[ $check == "ok: 40 elements" ]] || fail "the guide's gradient check said: $check"
mkdir -p "$WORK/pc"
# shellcheck disable=SC2046
g++ -std=c++20 -O1 -shared -fPIC -fvisibility=hidden "$WORK/guide/scale_adapter.cpp" \
  $(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags --libs ftengine) \
  -o "$WORK/pc/libftengine-adapter-scale.so"

FTENGINE=$PREFIX/bin/ftengine
step "ftengine plugins lists them"
"$FTENGINE" --plugin-dir "$DORA_DIR" --plugin-dir "$WORK/pc" plugins --json >"$WORK/plugins.json"
python3 - "$WORK/plugins.json" "$DORA_DIR" "$WORK/pc" <<'PY'
import json, os, sys
listing = json.load(open(sys.argv[1]))
plugins = listing["plugins"] if isinstance(listing, dict) else listing
def find(name):
    hits = [p for p in plugins if p.get("name") == name and p.get("kind") == "adapter"]
    assert hits, f"no adapter {name} in {json.dumps(listing)[:400]}"
    return hits[0]
dora, scale = find("dora"), find("scale")
assert os.path.dirname(dora["path"]) == sys.argv[2], dora
assert dora["version"] == "0.1.0", dora
assert os.path.dirname(scale["path"]) == sys.argv[3], scale
PY

step "a DoRA run on stories260K-hf"
cd "$WORK"
python3 - "$NOVEL" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
with open("train.jsonl", "w") as train, open("eval.jsonl", "w") as ev:
    for p in range(50):  # passages of 8 lines after the header: 40 to train, 10 to evaluate
        text = "".join(lines[20 + p * 8 + i] + "\n" for i in range(8))
        (train if p < 40 else ev).write(json.dumps({"text": text}) + "\n")
PY
cat >job.toml <<EOF
[job]
name = "dora"
[model]
path = "$MODEL"
[adapter]
plugin = "dora"
r = 8
alpha = 16
dropout = 0.05
target_modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
[optimizer]
lr = 0.01
[schedule]
warmup_steps = 2
[data]
train = "train.jsonl"
eval = "eval.jsonl"
seq_len = 64
[train]
batch_size = 4
max_steps = 20
eval_every = 20
seed = 7
precision = "f32"  # the in-run eval is compared with `ftengine eval`, which is f32
[backend]
plugin = "cpu"
[output]
dir = "run"
EOF
"$FTENGINE" --plugin-dir "$DORA_DIR" -q run job.toml
"$FTENGINE" --plugin-dir "$DORA_DIR" -q eval --model "$MODEL" --adapter run/adapter \
  --data eval.jsonl --seq-len 64 --json >adapter_eval.json
"$FTENGINE" --plugin-dir "$DORA_DIR" -q merge --model "$MODEL" --adapter run/adapter --out merged \
  >/dev/null
"$FTENGINE" -q eval --model merged --data eval.jsonl --seq-len 64 --json >merged_eval.json
python3 - <<'PY'
import json, struct
evals = [r for r in map(json.loads, open("run/metrics.jsonl")) if "eval_loss" in r]
before, after = evals[0], evals[-1]
assert before["step"] == 0 and after["step"] == 20, evals
print(f"eval loss {before['eval_loss']:.4f} -> {after['eval_loss']:.4f}")
assert after["eval_loss"] < before["eval_loss"] - 0.3, "DoRA did not lower the eval loss"
reloaded = json.load(open("adapter_eval.json"))["loss"]
assert abs(reloaded - after["eval_loss"]) <= 1e-6 * after["eval_loss"], (reloaded, after)
merged = json.load(open("merged_eval.json"))["loss"]
assert abs(merged - after["eval_loss"]) <= 1e-4 * after["eval_loss"], (merged, after)
config = json.load(open("run/adapter/adapter_config.json"))
assert config["peft_type"] == "LORA" and config["use_dora"] is True, config
with open("run/adapter/adapter_model.safetensors", "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
layer = "base_model.model.model.layers.0.self_attn.q_proj"
assert header[layer + ".lora_A.weight"]["shape"] == [8, 64], header[layer + ".lora_A.weight"]
assert header[layer + ".lora_B.weight"]["shape"] == [64, 8]
assert header[layer + ".lora_magnitude_vector"]["shape"] == [64]
assert len([k for k in header if k != "__metadata__"]) == 5 * 7 * 3  # 5 layers x 7 x (A, B, m)
PY

# The merged weights against DoRA's formula in numpy, from the base weights and the saved
# adapter: W' = m / ‖W + s·B·A‖_row · (W + s·B·A), s = alpha / r (PEFT's merge).
VENV_PYTHON=$SOURCE/.venv/bin/python
if [[ -x $VENV_PYTHON ]] && "$VENV_PYTHON" -c "import numpy, safetensors" 2>/dev/null; then
  "$VENV_PYTHON" - "$MODEL" <<'PY'
import sys
import numpy as np
from safetensors.numpy import load_file
base = load_file(sys.argv[1] + "/model.safetensors")
adapter = load_file("run/adapter/adapter_model.safetensors")
merged = load_file("merged/model.safetensors")
worst = 0.0
for i in range(5):
    for proj in ("self_attn.q_proj", "mlp.down_proj"):
        name = f"model.layers.{i}.{proj}"
        a = adapter[f"base_model.model.{name}.lora_A.weight"].astype(np.float64)
        b = adapter[f"base_model.model.{name}.lora_B.weight"].astype(np.float64)
        m = adapter[f"base_model.model.{name}.lora_magnitude_vector"].astype(np.float64)
        w = base[name + ".weight"].astype(np.float64) + (16 / 8) * b @ a
        expected = (m / np.linalg.norm(w, axis=1))[:, None] * w
        worst = max(worst, float(np.abs(merged[name + ".weight"] - expected).max()))
print(f"merged weights against DoRA's formula: max abs error {worst:.2e}")
assert worst < 1e-5, worst
PY
else
  echo "numpy check skipped: $VENV_PYTHON with numpy and safetensors absent (scripts/setup.sh makes it)"
fi

step "the guide's adapter trains"
"$FTENGINE" --plugin-dir "$WORK/guide-build/plugins" -q run job.toml --set adapter.plugin=scale \
  --set train.max_steps=5 --set output.dir=scale-run
[[ -f scale-run/adapter/scales.safetensors ]] || fail "the scale adapter saved nothing"

step "installed into the prefix, found without --plugin-dir"
cmake --install "$WORK/dora-build" --prefix "$PREFIX" >/dev/null
"$FTENGINE" plugins | grep -E "^ *adapter +dora +0\.1\.0" >/dev/null ||
  fail "installed dora not listed: $("$FTENGINE" plugins)"
echo "ok"
