#!/usr/bin/env python3
"""An independent float64 implementation of the published Llama-family equations
(transformers' modeling_llama.py, modeling_mistral.py, modeling_qwen2.py, modeling_qwen3.py,
modeling_phi3.py with LongRoPE and partial rotary, modeling_smollm3.py with its NoPE layers, modeling_gemma3.py: embeddings
times sqrt(hidden), RMSNorm with (1 + w), four norms per block, q/k norms, query_pre_attn_scalar, GeGLU with tanh GELU,
sliding and full layers with their own RoPE), kept apart from the TypeScript code
on purpose: it shares no code, no tables and no conventions with src/, only the published
math. It reads a Hugging Face model folder (config.json + model.safetensors) and prints, as
one JSON object on stdout, the logits of every position of a token sequence (a causal model
in one forward call: row t is what decoding token t after tokens 0..t-1 must give; or in the
calls given, each through a KV cache, as generation feeds them) and the RoPE
inverse frequencies it used.

usage: llama_family.py <model dir> <comma-separated token ids> [<comma-separated call lengths>]
"""
import json
import math
import os
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        buf = raw[base + a : base + b]
        dtype = meta["dtype"]
        if dtype == "F32":
            arr = np.frombuffer(buf, dtype="<f4")
        elif dtype == "F16":
            arr = np.frombuffer(buf, dtype="<f2")
        elif dtype == "BF16":
            # bf16 is the top half of an fp32: widen by shifting the bits up.
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{name}: dtype {dtype} not handled here")
        out[name] = arr.astype(np.float64).reshape(meta["shape"])
    return out


def rotary_dims(cfg, head_dim):
    """Phi3's partial_rotary_factor: int(head_dim * factor) values of each head rotate (the rest pass)."""
    if cfg["architectures"][0] != "Phi3ForCausalLM":
        return head_dim
    return int(head_dim * cfg.get("partial_rotary_factor", 1.0))


def default_theta(cfg):
    arch = cfg["architectures"][0]
    return 2000000.0 if arch == "SmolLM3ForCausalLM" else 1000000.0 if arch == GEMMA3 else 10000.0


GEMMA3 = "Gemma3ForCausalLM"


def layer_types(cfg):
    """Gemma3TextConfig: layer_types as listed, else layer i is full_attention when (i + 1) % sliding_window_pattern == 0."""
    n = cfg["num_hidden_layers"]
    if cfg["architectures"][0] != GEMMA3:
        return ["full_attention"] * n
    if cfg.get("layer_types") is not None:
        return list(cfg["layer_types"])
    pattern = cfg.get("sliding_window_pattern", cfg.get("_sliding_window_pattern", 6))
    return ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(n)]


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def inv_frequencies(cfg, dim, seq_len):
    """RoPE inverse frequencies over the rotary dims and the factor cos/sin are scaled by:
    Llama 3's rescaling, or LongRoPE's short/long factors (by the sequence length) and attention factor."""
    theta = cfg.get("rope_theta", default_theta(cfg))
    inv = 1.0 / theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    scaling = cfg.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return inv, 1.0
    if kind == "linear":  # positions / factor
        return inv / scaling["factor"], 1.0
    if kind in ("longrope", "su"):
        old_ctx = scaling.get("original_max_position_embeddings", cfg.get("original_max_position_embeddings", 4096))
        factor = scaling.get("factor") or cfg["max_position_embeddings"] / old_ctx
        attention = scaling.get("attention_factor")
        if attention is None:
            attention = 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(old_ctx))
        ext = np.array(scaling["long_factor"] if seq_len > old_ctx else scaling["short_factor"], dtype=np.float64)
        return 1.0 / (ext * theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim)), attention
    if kind != "llama3":
        raise SystemExit(f"rope type {kind} not handled here")
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_ctx = scaling["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    scaled = np.where(wavelen > old_ctx / low, inv / factor, inv)
    smooth = (old_ctx / wavelen - low) / (high - low)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old_ctx / high) & (wavelen <= old_ctx / low)
    return np.where(medium, blended, scaled), 1.0


def rope_layers(cfg):
    """Per layer, whether it applies RoPE: SmolLM3's no_rope_layers (1 = RoPE), else every interval-th layer (default 4) without."""
    n = cfg["num_hidden_layers"]
    if cfg["architectures"][0] != "SmolLM3ForCausalLM":
        return [True] * n
    listed = cfg.get("no_rope_layers")
    if listed is None:
        interval = cfg.get("no_rope_layer_interval", 4)
        listed = [int((i + 1) % interval != 0) for i in range(n)]
    return [bool(listed[i]) for i in range(n)]


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def sliding_window(cfg):
    """The window the published mask applies (masking_utils.sliding_window_overlay: kv > q - W), or None.
    Mistral slides whenever sliding_window is set (MistralConfig's default 4096), Phi-3 when it is not null."""
    arch = cfg["architectures"][0]
    if arch == "MistralForCausalLM":
        return cfg.get("sliding_window", 4096)
    if arch == GEMMA3:  # on the sliding_attention layers only (layer_types)
        return cfg.get("sliding_window", 4096)
    if arch == "Phi3ForCausalLM":
        return cfg.get("sliding_window")
    if cfg.get("use_sliding_window") and cfg.get("sliding_window") is not None:
        raise SystemExit("use_sliding_window (per-layer windows) not handled here")
    return None


def unfuse(cfg, w, n_heads, n_kv, hd):
    """Phi-3 stores [q; k; v] as qkv_proj and [gate; up] as gate_up_proj (Phi3Attention, Phi3MLP's chunk(2))."""
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        qkv = w.pop(p + "self_attn.qkv_proj.weight", None)
        if qkv is not None:
            q_end, k_end = n_heads * hd, n_heads * hd + n_kv * hd
            w[p + "self_attn.q_proj.weight"] = qkv[:q_end]
            w[p + "self_attn.k_proj.weight"] = qkv[q_end:k_end]
            w[p + "self_attn.v_proj.weight"] = qkv[k_end:]
        gate_up = w.pop(p + "mlp.gate_up_proj.weight", None)
        if gate_up is not None:
            gate, up = np.split(gate_up, 2, axis=0)
            w[p + "mlp.gate_proj.weight"] = gate
            w[p + "mlp.up_proj.weight"] = up


def forward(cfg, w, ids, streams=None, calls=None):
    """Logits [T, vocab]; when `streams` is a list, the residual stream entering each block and the last block's output are appended to it.
    `calls`: the lengths of the forward calls the tokens are fed in (default: one call), each appending to a KV cache of
    rotated keys, as transformers' generate does; LongRoPE picks its factors per call by max(position_ids) + 1."""
    hidden = cfg["hidden_size"]
    n_heads = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_heads)
    hd = cfg.get("head_dim") or hidden // n_heads
    eps = cfg.get("rms_norm_eps", 1e-6)
    gemma = cfg["architectures"][0] == GEMMA3
    kinds = layer_types(cfg)
    # Gemma3RMSNorm multiplies by (1 + w); its attention scale is query_pre_attn_scalar ** -0.5.
    unit = 1.0 if gemma else 0.0
    scaling = cfg.get("query_pre_attn_scalar", 256) ** -0.5 if gemma else 1 / math.sqrt(hd)
    local_cfg = {**cfg, "rope_theta": cfg.get("rope_local_base_freq", 10000.0), "rope_scaling": None}
    rot = rotary_dims(cfg, hd)
    with_rope = rope_layers(cfg)
    window = sliding_window(cfg)
    unfuse(cfg, w, n_heads, n_kv, hd)
    layers = cfg["num_hidden_layers"]
    cache_k = [np.zeros((n_kv, 0, hd)) for _ in range(layers)]
    cache_v = [np.zeros((n_kv, 0, hd)) for _ in range(layers)]

    def proj(x, name):
        y = x @ w[name + ".weight"].T
        bias = w.get(name + ".bias")
        return y if bias is None else y + bias

    outputs = []
    start = 0
    first_inv = None
    for n in calls or [len(ids)]:
        T, end = n, start + n

        def tables(rope_cfg):
            inv, attention = inv_frequencies(rope_cfg, rot, end)  # this call's max(position_ids) + 1 = end
            angles = np.outer(np.arange(start, end, dtype=np.float64), inv)  # [T, rot/2]
            cos = np.cos(np.concatenate([angles, angles], axis=-1)) * attention  # [T, rot]
            sin = np.sin(np.concatenate([angles, angles], axis=-1)) * attention
            return inv, cos, sin

        inv, cos_global, sin_global = tables(cfg)
        first_inv = inv if first_inv is None else first_inv
        _, cos_local, sin_local = tables(local_cfg)  # Gemma 3's sliding layers: rope_local_base_freq, plain RoPE

        def rotate(x, cos, sin):  # apply_rotary_pos_emb: the first rot values of each head turn, the rest pass
            x_rot, x_pass = x[..., :rot], x[..., rot:]
            return np.concatenate([x_rot * cos + rotate_half(x_rot) * sin, x_pass], axis=-1)

        query_pos = np.arange(start, end)[:, None]
        key_pos = np.arange(0, end)[None, :]
        allowed = key_pos <= query_pos
        full = np.where(allowed, 0.0, -np.inf)  # [T, end]
        if window is not None:
            allowed &= key_pos > query_pos - window  # keys at q - W and before are masked
        causal = np.where(allowed, 0.0, -np.inf)  # [T, end]

        x = w["model.embed_tokens.weight"][ids[start:end]]  # [T, hidden]
        if gemma:
            x = x * math.sqrt(hidden)  # Gemma3TextScaledWordEmbedding (fp32: the exact square root)
        for layer in range(layers):
            if streams is not None:
                streams.append(x)
            p = f"model.layers.{layer}."
            sliding = kinds[layer] == "sliding_attention"
            mask = full if gemma and not sliding else causal
            cos, sin = (cos_local, sin_local) if gemma and sliding else (cos_global, sin_global)
            h = rms_norm(x, unit + w[p + "input_layernorm.weight"], eps)
            q = proj(h, p + "self_attn.q_proj").reshape(T, n_heads, hd).transpose(1, 0, 2)  # [H, T, hd]
            k = proj(h, p + "self_attn.k_proj").reshape(T, n_kv, hd).transpose(1, 0, 2)
            v = proj(h, p + "self_attn.v_proj").reshape(T, n_kv, hd).transpose(1, 0, 2)
            if p + "self_attn.q_norm.weight" in w:  # Qwen3: RMSNorm over each head's hd values, before RoPE
                q = rms_norm(q, unit + w[p + "self_attn.q_norm.weight"], eps)
                k = rms_norm(k, unit + w[p + "self_attn.k_norm.weight"], eps)
            if with_rope[layer]:
                q = rotate(q, cos, sin)
                k = rotate(k, cos, sin)
            cache_k[layer] = np.concatenate([cache_k[layer], k], axis=1)  # the cache keeps keys as they were turned
            cache_v[layer] = np.concatenate([cache_v[layer], v], axis=1)
            group = n_heads // n_kv
            keys = np.repeat(cache_k[layer], group, axis=0)  # repeat_kv
            values = np.repeat(cache_v[layer], group, axis=0)
            scores = q @ keys.transpose(0, 2, 1) * scaling + mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs = scores / scores.sum(axis=-1, keepdims=True)
            att = (probs @ values).transpose(1, 0, 2).reshape(T, n_heads * hd)
            if gemma:  # Gemma3DecoderLayer: post_attention_layernorm norms the attention output; then pre/post feedforward norms
                x = x + rms_norm(proj(att, p + "self_attn.o_proj"), 1 + w[p + "post_attention_layernorm.weight"], eps)
                h = rms_norm(x, 1 + w[p + "pre_feedforward_layernorm.weight"], eps)
                act = gelu_tanh(proj(h, p + "mlp.gate_proj")) * proj(h, p + "mlp.up_proj")
                x = x + rms_norm(proj(act, p + "mlp.down_proj"), 1 + w[p + "post_feedforward_layernorm.weight"], eps)
                continue
            x = x + proj(att, p + "self_attn.o_proj")
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
            gate = proj(h, p + "mlp.gate_proj")
            silu = gate / (1 + np.exp(-gate))
            x = x + proj(silu * proj(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        if streams is not None:
            streams.append(x)
        x = rms_norm(x, unit + w["model.norm.weight"], eps)
        tied = cfg.get("tie_word_embeddings", cfg["architectures"][0] in ("SmolLM3ForCausalLM", GEMMA3))
        head = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]
        outputs.append(x @ head.T)
        start = end
    return np.concatenate(outputs, axis=0), first_inv


def main():
    folder, ids = sys.argv[1], [int(t) for t in sys.argv[2].split(",")]
    calls = [int(n) for n in sys.argv[3].split(",")] if len(sys.argv) > 3 else None
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    logits, inv = forward(cfg, weights, ids, calls=calls)
    json.dump({"logits": logits.tolist(), "invFreq": inv.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
