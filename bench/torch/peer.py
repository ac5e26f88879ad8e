"""The peer both training benchmarks run (peft_bench.py, padding_peer.py): transformers'
LlamaForCausalLM with PEFT LoRA (or every weight trained, for full fine-tuning) and
torch.optim.AdamW, and one training step as a transformers user writes it."""
import torch
import torch.nn.functional as F


def build(model_dir, method="lora", r=8, alpha=16.0, lr=1e-4, base_dtype=torch.float32):
    """(model, base parameter count, trainable parameters, optimizer). Trainable weights are
    f32 whatever the base is stored in; AdamW as ftengine's defaults (betas 0.9, 0.999)."""
    import peft  # after the caller's torch.set_num_threads
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=base_dtype)
    total = sum(p.numel() for p in model.parameters())
    if method == "lora":
        config = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules="all-linear",
                                 lora_dropout=0.0, task_type="CAUSAL_LM")
        model = peft.get_peft_model(model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    model.train()
    return model, total, params, opt


def train_step(model, params, opt, input_ids, targets, attention_mask=None, grad_clip=1.0,
               bf16=False):
    """One optimizer step; the loss. targets[b, i]: the token position i predicts, or -100.
    The loss as transformers' causal-LM loss computes it: logits upcast to f32, mean over
    targets; under torch.autocast(bf16) when bf16."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        # use_cache=False: a training step has no use for a KV cache.
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=-100)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()
