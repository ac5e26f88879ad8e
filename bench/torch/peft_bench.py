#!/usr/bin/env python3
"""Peer side of bench/train_vs_torch.sh: the training step of the stack users actually run,
transformers' LlamaForCausalLM + PEFT LoRA + torch.optim.AdamW, on the model directory
`ftengine init-model` writes (Hugging Face layout: config.json + model.safetensors).

    .venv-bench/bin/python bench/torch/peft_bench.py --model M --data ROWS.jsonl \
        --method lora --precision bf16 --threads 2

Prints one JSON line: median step time and tokens/s over the timed steps (after warm-up),
and the versions that produced them.

  --method lora  get_peft_model(LoraConfig(r, lora_alpha, target_modules="all-linear",
                 lora_dropout=0)): every linear layer but lm_head, as PEFT defines
                 "all-linear"; the base frozen.
  --method full  the plain model, every weight trained (embeddings and lm_head too).
  --precision bf16  torch.autocast("cpu", dtype=torch.bfloat16) around forward and loss.
                 For LoRA the frozen base is also stored in bf16 (from_pretrained with
                 torch_dtype=bfloat16; the trainable LoRA weights stay f32); for full
                 fine-tuning the weights stay f32 master weights.

The batch is the one ftengine builds from the same file with packing off and
on_overflow = "truncate": each row is one document's first seq_len tokens (the tokenizer
adds the BOS), plain causal attention, and the targets are the next tokens, seq_len per row
(the last one is the document's token after the row). Rows are taken in file order; the
step time does not depend on which rows they are.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

import peer  # bench/torch/peer.py: the model, optimizer and step both peers run


def peak_rss_mib():
    """This process's peak resident set (VmHWM), for a run without GNU time around it."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load_rows(path, tokenizer, seq_len):
    """[rows, seq_len + 1] token ids: each document's first seq_len + 1 tokens."""
    rows = []
    with open(path) as f:
        for n, line in enumerate((l for l in f if l.strip()), 1):
            ids = tokenizer(json.loads(line)["text"])["input_ids"]
            if len(ids) < seq_len + 1:
                sys.exit(f"{path}:{n}: {len(ids)} tokens, need {seq_len + 1} for a full row")
            rows.append(ids[:seq_len + 1])
    return torch.tensor(rows, dtype=torch.long)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model directory (config.json, model.safetensors)")
    ap.add_argument("--data", required=True, help="JSONL of {\"text\"} documents, each > seq_len tokens")
    ap.add_argument("--method", choices=["lora", "full"], default="lora")
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpointing", action="store_true",
                    help="activation checkpointing: transformers' gradient_checkpointing_enable()")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    # Imported after set_num_threads so nothing they start sees more threads.
    import peft
    import transformers
    from transformers import AutoTokenizer

    bf16 = args.precision == "bf16"
    # Only LoRA keeps its frozen base in bf16; full fine-tuning trains f32 master weights.
    base_dtype = torch.bfloat16 if bf16 and args.method == "lora" else torch.float32
    model, total, params, opt = peer.build(args.model, args.method, args.r, args.alpha, args.lr,
                                           base_dtype)
    trainable = sum(p.numel() for p in params)
    if args.checkpointing:
        # Non-reentrant: works with a frozen embedding, no enable_input_require_grads needed.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    rows = load_rows(args.data, tokenizer, args.seq_len)
    if rows.shape[0] < args.batch:
        sys.exit(f"{args.data}: {rows.shape[0]} rows, fewer than a batch of {args.batch}")

    times, losses = [], []
    for step in range(args.warmup + args.steps):
        first = (step * args.batch) % (rows.shape[0] - args.batch + 1)
        batch = rows[first:first + args.batch]
        inputs, targets = batch[:, :-1], batch[:, 1:]
        t0 = time.perf_counter()
        losses.append(peer.train_step(model, params, opt, inputs, targets,
                                      grad_clip=args.grad_clip, bf16=bf16))
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)

    median = statistics.median(times)
    print(json.dumps({
        "peer": "transformers+peft",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "method": args.method,
        "precision": args.precision,
        "base_dtype": str(base_dtype).replace("torch.", ""),
        "attention": getattr(model.config, "_attn_implementation", None),
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "seq_len": args.seq_len,
        "checkpointing": args.checkpointing,
        "parameters": total,
        "trainable": trainable,
        "timed_steps": args.steps,
        "step_s_median": round(median, 5),
        "step_s_min": round(min(times), 5),
        "tokens_per_second": round(args.batch * args.seq_len / median, 1),
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
        "peak_rss_mib": round(peak_rss_mib()),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
