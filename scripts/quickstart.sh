#!/usr/bin/env bash
# README command (1): install what is needed, build, and fine-tune a tiny Llama with LoRA
# (configs/quickstart.toml) on a dataset the project generates; then score the held-out
# data with the model alone and with the trained adapter.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh

ftengine=build/bin/ftengine
# The model and the data are made here, once: a random tiny model and a small grammar.
[[ -f models/tiny/model.safetensors ]] || "$ftengine" init-model --preset tiny --out models/tiny
[[ -f data/quickstart/train.jsonl ]] || "$ftengine" init-data --preset quickstart --out data/quickstart

# A fresh run each time: ftengine refuses to write over an earlier run's checkpoints.
rm -rf runs/quickstart
"$ftengine" run configs/quickstart.toml

echo
echo "Eval loss on data/quickstart/val.jsonl, the model alone, then with the adapter:"
"$ftengine" -q eval --model models/tiny --data data/quickstart/val.jsonl --seq-len 128
"$ftengine" -q eval --model models/tiny --adapter runs/quickstart/adapter \
  --data data/quickstart/val.jsonl --seq-len 128
