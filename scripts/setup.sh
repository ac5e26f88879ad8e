#!/usr/bin/env bash
# Installs the Debian 12 packages ftengine needs to build and test (the CUDA backend builds
# with the toolkit the machine ships in /usr/local/cuda, when there is one), and the Python oracles
# some tests compare against (safetensors, numpy, gguf: from PyPI into ./.venv; a test whose
# oracle is missing skips with the reason). Runs apt-get as root, or through sudo; does
# nothing that is already done.
#
#   scripts/setup.sh           # build and test
#   scripts/setup.sh --bench   # also what bench/train_vs_torch.sh compares against:
#                              # PyPI's torch, transformers and peft in ./.venv-bench
#
# The bench venv is separate from the test venv because PyPI's torch pulls its CUDA
# libraries as wheels (about 2.8 GB; it imports fine without a GPU): the test suite never
# needs them. Both come from PyPI only, no extra index, so that the peer is the stack users
# actually install.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-dev libboost-filesystem-dev libboost-program-options-dev
  libdnnl-dev ocl-icd-opencl-dev opencl-headers   # oneDNN's CMake package requires OpenCL
  libfmt-dev libtomlplusplus-dev nlohmann-json3-dev libpcre2-dev
  libgtest-dev googletest
  python3-venv
  hipcc libamdhip64-dev   # the rocm backend plugin builds everywhere; it needs a GPU only to run
)
bench=false
[[ ${1:-} == --bench ]] && bench=true

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages present"
else
  if [[ $(id -u) -eq 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Test oracles. Debian's python, so that the venv does not depend on another interpreter
# on PATH. Without network the suite still runs: those tests skip and say why.
oracles=(safetensors numpy gguf)
if ! .venv/bin/python -c 'import safetensors.numpy, numpy, gguf' 2>/dev/null; then
  echo "setup: Python test oracles into .venv: ${oracles[*]}"
  /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "${oracles[@]}" ||
    echo "setup: warning: pip could not install ${oracles[*]}; the tests that compare" \
         "against them will skip" >&2
fi

# The benchmark peer (bench/train_vs_torch.sh): transformers' LlamaForCausalLM + PEFT on
# PyPI's torch, which brings its own BLAS (no system OpenBLAS needed).
if $bench; then
  peer=(torch transformers peft)
  if ! .venv-bench/bin/python -c 'import torch, transformers, peft' 2>/dev/null; then
    echo "setup: benchmark peer into .venv-bench: ${peer[*]} (torch's CUDA wheels: ~2.8 GB)"
    /usr/bin/python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q --disable-pip-version-check "${peer[@]}"
  fi
fi
