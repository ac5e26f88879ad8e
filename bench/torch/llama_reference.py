#!/usr/bin/env python3
"""A Llama with LoRA written out in plain PyTorch, for bench/torch/quickstart_reference.py:
the model directory ftengine's `init-model` writes, loaded as transformers'
LlamaForCausalLM computes it (RMSNorm, rotate-half RoPE, GQA attention with SDPA when torch
has it, SwiGLU MLP), LoRA as PEFT initialises it (A kaiming-uniform, B zero, scale
alpha / r, every linear layer but lm_head).

It is here rather than transformers because the quickstart reference trains on packed rows
(positions and attention restarting per document), which this model takes as positions and
doc_ids; torch only (1.13 works). The training benchmark's peer is transformers + PEFT
itself: bench/torch/peft_bench.py.
"""

import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

IGNORE = -100


# ---- weights -----------------------------------------------------------------------------

_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def read_safetensors(path):
    """{name: tensor} from a .safetensors file (8-byte header length, JSON header, data)."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = bytearray(data[base + begin:base + end])  # writable copy: frombuffer warns otherwise
        t = torch.frombuffer(buf, dtype=_DTYPES[info["dtype"]]) if buf else torch.empty(0)
        out[name] = t.reshape(info["shape"]).float()
    return out


# ---- model -------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.kv_heads = c["num_attention_heads"], c["num_key_value_heads"]
        self.head_dim = c.get("head_dim") or c["hidden_size"] // self.heads
        C = c["hidden_size"]
        self.q_proj = nn.Linear(C, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(C, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(C, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, C, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads  # GQA: each kv head serves `rep` query heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            if mask is None:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:  # torch < 2.0
            s = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)
            if mask is None:
                mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            s = s.masked_fill(~mask, float("-inf"))
            y = torch.softmax(s, dim=-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, I = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(C, I, bias=False)
        self.up_proj = nn.Linear(C, I, bias=False)
        self.down_proj = nn.Linear(I, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class Llama(nn.Module):
    """Parameter names as transformers' LlamaForCausalLM, so model.safetensors loads as is."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model = Inner(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        head_dim = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        theta = c.get("rope_theta", 10000.0)
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    checkpointing = False  # recompute each block in backward (torch.utils.checkpoint)

    def forward(self, tokens, targets, positions=None, doc_ids=None):
        """Mean cross-entropy over targets != -100. positions/doc_ids: [B, T] for packed rows
        (attention only within a document); None: 0..T-1 and plain causal attention."""
        B, T = tokens.shape
        if positions is None:
            positions = torch.arange(T).expand(B, T)
        freqs = positions[..., None].float() * self.inv_freq  # [B, T, head_dim / 2]
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # [B, 1, T, head_dim]
        cos, sin = emb.cos(), emb.sin()
        mask = None
        if doc_ids is not None:
            causal = torch.ones(T, T, dtype=torch.bool).tril()
            mask = (doc_ids[:, :, None] == doc_ids[:, None, :]) & causal  # [B, T, T]
            mask = mask[:, None]
        x = self.model.embed_tokens(tokens)
        for layer in self.model.layers:
            if self.checkpointing and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(layer, x, cos, sin, mask, use_reentrant=False)
            else:
                x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.model.norm(x))
        return F.cross_entropy(logits.view(B * T, -1).float(), targets.reshape(-1),
                               ignore_index=IGNORE)


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    model = Llama(config)
    weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    if config.get("tie_word_embeddings") and "lm_head.weight" not in weights:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    model.load_state_dict(weights, strict=True)
    return model


# ---- LoRA --------------------------------------------------------------------------------

class LoraLinear(nn.Module):
    """y = W x + (alpha / r) * B A x, W frozen; PEFT's init: A kaiming-uniform(a=sqrt(5)),
    B zero, so training starts from the base model exactly."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.base.weight.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scale


LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def apply_lora(model, r, alpha):
    """Freezes the model and wraps every linear layer but lm_head; returns trainable params."""
    for p in model.parameters():
        p.requires_grad_(False)
    for module in list(model.modules()):
        for name in LINEAR_NAMES:
            child = getattr(module, name, None)
            if isinstance(child, nn.Linear):
                setattr(module, name, LoraLinear(child, r, alpha))
    return [p for p in model.parameters() if p.requires_grad]
