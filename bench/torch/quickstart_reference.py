#!/usr/bin/env python3
"""What the quickstart should reach: the same LoRA run in PyTorch, for comparing ftengine's
loss curve with (not a test; it takes a minute).

    ftengine init-model --preset tiny --out models/tiny
    ftengine init-data --preset quickstart --out data/quickstart
    .venv-bench/bin/python bench/torch/quickstart_reference.py --model models/tiny \
        --data data/quickstart          # any python with torch; scripts/setup.sh --bench

Packs train.jsonl and val.jsonl as engine/data/text_dataset.hpp does (BOS + text + EOS per
line, rows of seq_len, targets carried across row cuts, none after EOS, positions and
attention restarting per document and row), trains LoRA (every linear layer but lm_head)
with AdamW, linear warmup then cosine to 0, gradient clipping 1.0, and prints the validation
loss before and after, and every --eval-every steps, as JSON lines. The defaults are
configs/quickstart.toml's (r 8, alpha 32, lr 3e-3, warmup 10, 400 steps, batch 4 x 128).

Measured here (torch 1.13, 2 busy cores, seed 0 model and data): validation loss 5.52 at
step 0, 4.20 at 100, 3.81 at 200, 3.62 at 300, 3.57 at 400 (about 100 s). With lm_head and
the final norm frozen at their random init (std 0.02), a byte the model is sure of still
costs about 3.05 nats (the logits cannot grow larger), so LoRA alone cannot go much lower;
full fine-tuning reaches 2.30 in 60 steps.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import IGNORE, apply_lora, load_model  # noqa: E402


def bytes_to_unicode():
    """GPT-2's byte -> symbol table: the byte-level tokenizer's vocabulary strings."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def byte_encoder(model_dir):
    """text -> ids for the tiny preset's byte-level tokenizer (no merges), BOS first."""
    with open(os.path.join(model_dir, "tokenizer.json")) as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    if tok["model"].get("merges"):
        sys.exit(f"{model_dir}: this script reads only the merge-free byte tokenizer of init-model")
    specials = {t["content"]: t["id"] for t in tok["added_tokens"]}
    ids_of = [vocab[s] for _, s in sorted(bytes_to_unicode().items())]
    bos, eos = specials["<|begin_of_text|>"], specials["<|end_of_text|>"]
    return (lambda text: [bos] + [ids_of[b] for b in text.encode("utf-8")]), eos


def pack(path, encode, eos, seq_len):
    """Rows as engine/data/text_dataset.hpp makes them: [rows, seq_len] x 4."""
    stream, doc = [], []
    with open(path) as f:
        for d, line in enumerate(l for l in f if l.strip()):
            ids = encode(json.loads(line)["text"]) + [eos]
            stream += ids
            doc += [d] * len(ids)
    n = len(stream)
    rows = (n + seq_len - 1) // seq_len
    size = rows * seq_len
    tokens = torch.zeros(size, dtype=torch.long)
    targets = torch.full((size,), IGNORE, dtype=torch.long)
    positions = torch.zeros(size, dtype=torch.long)
    doc_ids = torch.full((size,), -1, dtype=torch.long)
    tokens[:n] = torch.tensor(stream)
    doc_ids[:n] = torch.tensor(doc)
    for i in range(n):
        if i + 1 < n and doc[i + 1] == doc[i]:
            targets[i] = stream[i + 1]
        if i % seq_len and doc[i - 1] == doc[i]:
            positions[i] = positions[i - 1] + 1
    shape = (rows, seq_len)
    return tokens.view(shape), targets.view(shape), positions.view(shape), doc_ids.view(shape)


@torch.no_grad()
def evaluate(model, rows, batch):
    """Mean cross-entropy per target token over all rows."""
    total, count = 0.0, 0
    for i in range(0, rows[0].shape[0], batch):
        tok, tgt, pos, doc = (r[i:i + batch] for r in rows)
        n = int((tgt != IGNORE).sum())
        total += model(tok, tgt, pos, doc).item() * n
        count += n
    return total / count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="directory with train.jsonl and val.jsonl")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--method", choices=["lora", "full"], default="lora")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = load_model(args.model)
    if args.method == "lora":
        params = apply_lora(model, args.r, args.alpha)
    else:
        params = list(model.parameters())
    encode, eos = byte_encoder(args.model)
    train = pack(os.path.join(args.data, "train.jsonl"), encode, eos, args.seq_len)
    val = pack(os.path.join(args.data, "val.jsonl"), encode, eos, args.seq_len)
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    def lr_at(step):  # step 1..steps: linear warmup, then cosine to 0
        if step <= args.warmup:
            return args.lr * step / max(1, args.warmup)
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * progress))

    order = torch.randperm(train[0].shape[0])
    print(json.dumps({"step": 0, "val_loss": round(evaluate(model, val, 16), 4),
                      "train_rows": train[0].shape[0], "val_rows": val[0].shape[0]}), flush=True)
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        idx = order[((step - 1) * args.batch + torch.arange(args.batch)) % len(order)]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = model(*(r[idx] for r in train))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        line = {"step": step, "loss": round(loss.item(), 4)}
        if step % args.eval_every == 0 or step == args.steps:
            line["val_loss"] = round(evaluate(model, val, 16), 4)
            line["elapsed_s"] = round(time.perf_counter() - t0, 1)
        if "val_loss" in line or step % 10 == 0:
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
