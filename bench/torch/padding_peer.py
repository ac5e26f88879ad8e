#!/usr/bin/env python3
"""Peer side of bench/padding.sh: LoRA fine-tuning on Alpaca data the way a transformers user
runs it: LlamaForCausalLM + PEFT LoRA + torch.optim.AdamW, each batch padded to its longest
row by transformers' DataCollatorForSeq2Seq (labels -100 on padding and on the prompt, an
attention mask of zeros on padding), rows in a seeded random order.

    .venv-bench/bin/python bench/torch/padding_peer.py --model M --data alpaca.json \
        --seq-len 1024 --batch 4 --threads 2 --warmup 2 --steps 8
    .venv-bench/bin/python bench/torch/padding_peer.py --model M --data alpaca.json --show 2

Rows are built as ftengine builds them for Alpaca data with its "alpaca" template (written
again here from engine/data/chat_template.cpp and engine/data/sequences.cpp, so the two sides'
token counts can be held equal):

  {bos}{system}\\n\\n### Instruction:\\n{instruction}[\\n\\n### Input:\\n{input}]\\n\\n
  ### Response:\\n[[{output}{eos}]]\\n\\n

the system text being the Alpaca default (the "paired with an input" one when there is an
input); only [[...]] trains. Each part is encoded on its own (no special tokens added), an
example longer than seq_len keeps its first seq_len tokens, and the target at position i is
token i + 1 when that token trains (so a truncated row's last target is the token after it),
as ftengine computes it; the loss is the mean cross-entropy over trained targets with the
logits upcast to f32, as transformers' causal-LM loss does.

Prints one JSON line: the data's counts (rows, input tokens, trained targets), and over the
timed steps (the first WARMUP + STEPS batches of the epoch, WARMUP untimed) each step's time,
real (non-padding) tokens and padded length; with --show, the first N examples rendered with
the trained tokens in [[double brackets]] instead, as `ftengine data JOB --show N` prints them.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

import peer  # bench/torch/peer.py: the model, optimizer and step both peers run

ALPACA_SYSTEM = ("Below is an instruction that describes a task. Write a response that "
                 "appropriately completes the request.")
ALPACA_SYSTEM_WITH_INPUT = ("Below is an instruction that describes a task, paired with an "
                            "input that provides further context. Write a response that "
                            "appropriately completes the request.")


def read_alpaca(path):
    """Records of a JSON array or JSONL file of {instruction, input, output[, system]}."""
    with open(path) as f:
        text = f.read()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def render(record, bos, eos):
    """[(text, trained)] parts of one Alpaca record, as ftengine's alpaca template renders it
    (empty parts left out). History turns are not supported (the bench data has none)."""
    if record.get("history"):
        sys.exit("padding_peer.py: alpaca \"history\" is not supported here")
    inp = record.get("input") or ""
    system = record.get("system") or (ALPACA_SYSTEM_WITH_INPUT if inp else ALPACA_SYSTEM)
    user = record["instruction"] + ("\n\n### Input:\n" + inp if inp else "")
    parts = [(bos, False), (system + "\n\n", False), ("### Instruction:\n" + user + "\n\n", False),
             ("### Response:\n", False), (record["output"], True), (eos, True), ("\n\n", False)]
    return [(text, trained) for text, trained in parts if text]


def tokenize(parts, tokenizer):
    """(ids, trained flags) of the parts, each encoded on its own."""
    ids, trained = [], []
    for text, flag in parts:
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        trained += [flag] * len(piece)
    return ids, trained


def make_row(ids, trained, seq_len):
    """{input_ids, attention_mask, labels} of one example's first seq_len tokens, the labels
    already shifted (label i is the target of position i), or None when nothing trains."""
    n = min(len(ids), seq_len)
    labels = [ids[i + 1] if i + 1 < len(ids) and trained[i + 1] else -100 for i in range(n)]
    if all(t == -100 for t in labels):
        return None
    return {"input_ids": ids[:n], "attention_mask": [1] * n, "labels": labels}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model directory (config.json, "
                    "model.safetensors, tokenizer.json)")
    ap.add_argument("--data", required=True, help="Alpaca JSON or JSONL")
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--steps", type=int, default=8, help="timed steps")
    ap.add_argument("--seed", type=int, default=0, help="the row order's seed")
    ap.add_argument("--show", type=int, default=0, help="print the first N examples rendered "
                    "with [[trained]] parts and exit")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    # Imported after set_num_threads so nothing they start sees more threads.
    import peft
    import transformers
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.bos_token is None or tokenizer.eos_token is None:
        sys.exit(f"{args.model}: the alpaca template needs a tokenizer with BOS and EOS")
    records = read_alpaca(args.data)
    if args.show:
        for record in records[:args.show]:
            ids, trained = tokenize(render(record, tokenizer.bos_token, tokenizer.eos_token),
                                    tokenizer)
            out, i = "", 0
            while i < len(ids):  # runs of equal flags, decoded, the trained ones bracketed
                j = i
                while j < len(ids) and trained[j] == trained[i]:
                    j += 1
                text = tokenizer.decode(ids[i:j], skip_special_tokens=False)
                out += f"[[{text}]]" if trained[i] else text
                i = j
            print(out + "\n")
        return 0

    rows, examples_tokens = [], 0
    for record in records:
        ids, trained = tokenize(render(record, tokenizer.bos_token, tokenizer.eos_token), tokenizer)
        examples_tokens += len(ids)
        row = make_row(ids, trained, args.seq_len)
        if row is not None:
            rows.append(row)
    if len(rows) < args.batch:
        sys.exit(f"{args.data}: {len(rows)} rows, fewer than a batch of {args.batch}")
    input_tokens = sum(len(r["input_ids"]) for r in rows)
    target_tokens = sum(t != -100 for r in rows for t in r["labels"])

    model, _, params, opt = peer.build(args.model, "lora", args.r, args.alpha, args.lr)

    # The tokenizer has no pad token; padding positions are masked and carry no label, so
    # which id fills them does not matter: EOS, as a user of a base model usually sets.
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(args.seed)).tolist()
    steps = args.warmup + args.steps
    if steps * args.batch > len(rows):
        sys.exit(f"{args.data}: {len(rows)} rows, fewer than {steps} batches of {args.batch}")

    times, real, padded, losses = [], [], [], []
    for step in range(steps):
        batch = collator([rows[i] for i in order[step * args.batch:(step + 1) * args.batch]])
        t0 = time.perf_counter()
        losses.append(peer.train_step(model, params, opt, batch["input_ids"], batch["labels"],
                                      batch["attention_mask"], args.grad_clip))
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
            real.append(int(batch["attention_mask"].sum()))
            padded.append(int(batch["input_ids"].shape[1]))

    print(json.dumps({
        "peer": "transformers+peft, DataCollatorForSeq2Seq (pad to longest)",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "attention": getattr(model.config, "_attn_implementation", None),
        "threads": torch.get_num_threads(),
        "examples": len(records),
        "example_tokens": examples_tokens,
        "rows": len(rows),
        "input_tokens": input_tokens,
        "target_tokens": target_tokens,
        "steps_per_epoch": math.ceil(len(rows) / args.batch),
        "step_s": [round(t, 4) for t in times],
        "real_tokens": real,
        "padded_length": padded,
        "step_s_mean": round(statistics.mean(times), 4),
        "tokens_per_second": round(sum(real) / sum(times), 1),
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
