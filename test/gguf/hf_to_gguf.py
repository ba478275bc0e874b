"""A Hugging Face folder (config.json + model.safetensors) written as GGUF v3 the way llama.cpp's
convert_hf_to_gguf.py writes LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM and Gemma3ForCausalLM, for
test/node/gguf-families.test.ts. Own code (numpy only; Debian has no gguf-py), kept apart from
the TypeScript importer it checks; what it copies from the converter:
- keys `<arch>.*`: context_length, embedding_length, block_count, feed_forward_length,
  attention.head_count(_kv), attention.layer_norm_rms_epsilon, rope.freq_base, and
  attention.key_length/value_length when config.json has head_dim (TextModel); llama adds
  vocab_size and rope.dimension_count (LlamaModel.set_gguf_parameters);
- tensor names (gguf-py's MODEL_TENSORS): token_embd, blk.N.attn_{norm,q,k,v,output}, attn_{q,k,v}.bias
  (qwen2), attn_{q,k}_norm (qwen3), ffn_{norm,gate,up,down}, output_norm, output (absent when tied);
- llama's q/k rows reordered for interleaved RoPE (LlamaModel.permute); qwen2/qwen3 rows as stored;
- Llama 3 rope_scaling as rope_freqs.weight (LlamaModel.generate_extra_tensors): float32 frequencies
  as torch computes them, the blend in Python floats, original_max_position_embeddings read at the
  config's top level (8192 when absent there), stored float32;
- 1-D tensors (norms, biases, rope_freqs) stay F32; matrices take --type (Q8_0 rows that are not
  whole blocks of 32 fall back to F16).
- gemma3 (Gemma3Model): head_dim as key/value_length, attention.sliding_window, rope_scaling as
  rope.scaling.type 'linear' + factor, no vocab_size; post_attention_layernorm -> post_attention_norm,
  pre_feedforward_layernorm -> ffn_norm, post_feedforward_layernorm -> post_ffw_norm; every *norm.weight
  gets + 1 (norm_shift) after the converter's cast of bf16 to float32 (an F16 checkpoint keeps float16,
  so its 1 + w is rounded to float16 first).
The vocabulary is a tiny byte-level BPE ('gpt2', pre llama-bpe or qwen2) of vocab_size tokens: 16
control tokens, the 256 byte symbols, then merges; for gemma3 a tiny SentencePiece one ('llama') in
Gemma's layout: <pad> <eos> <bos> <unk> <mask> [multimodal] <unusedN>.. <start_of_turn> <end_of_turn>
(control, ids 0-106, score -1000 as llama.cpp gives added tokens), the byte tokens, then pieces scored
by merge rank; add_space_prefix false.

  python3 hf_to_gguf.py HF_DIR OUT.gguf --type F32|F16|BF16|Q8_0 [--ref REF_DIR]
--ref writes REF_DIR/<Hugging Face name>.f32: each tensor as a ggml decoder gives it back (float32,
Hugging Face row order, q/k rows put back).
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kquant_gguf import BF16, F16, F32, Q8_0, encode, kv, write_gguf  # noqa: E402

ARCH = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3", "Gemma3ForCausalLM": "gemma3"}
TYPES = {"F32": F32, "F16": F16, "BF16": BF16, "Q8_0": Q8_0}
LAYER = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
         "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
         "self_attn.k_norm": "attn_k_norm", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
         "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
GEMMA_LAYER = {**LAYER, "post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
               "post_feedforward_layernorm": "post_ffw_norm"}


def read_safetensors(path, dtypes=None):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        buf = raw[8 + n + a:8 + n + b]
        if meta["dtype"] == "BF16":
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype={"F32": "<f4", "F16": "<f2"}[meta["dtype"]]).astype(np.float32)
        out[name] = arr.reshape(meta["shape"])
        if dtypes is not None:
            dtypes[name] = meta["dtype"]
    return out


def gguf_name(hf, layer_names=LAYER):
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if hf in fixed:
        return fixed[hf]
    parts = hf.split(".")
    layer, kind, suffix = parts[2], ".".join(parts[3:-1]), parts[-1]
    return f"blk.{layer}.{layer_names[kind]}.{suffix}"


def permute(w, n_head):
    """LlamaModel.permute: each head's rows [pairs' first halves, second halves] -> interleaved."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def rope_freqs(cfg):
    """LlamaModel.generate_extra_tensors for rope_type llama3."""
    scaling = cfg.get("rope_scaling") or {}
    if scaling.get("rope_type", "").lower() != "llama3":
        return None
    base = cfg.get("rope_theta", 10000.0)
    dim = cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    freqs = np.float32(1.0) / (np.float32(base) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
    factor = scaling.get("factor", 8.0)
    low, high = scaling.get("low_freq_factor", 1.0), scaling.get("high_freq_factor", 4.0)
    old_context_len = cfg.get("original_max_position_embeddings", 8192)
    out = []
    for freq in freqs.astype(np.float32):
        wavelen = 2 * math.pi / float(freq)
        if wavelen < old_context_len / high:
            out.append(1)
        elif wavelen > old_context_len / low:
            out.append(factor)
        else:
            smooth = (old_context_len / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def vocabulary(size):
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):  # GPT-2's bytes_to_unicode
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    symbol = dict(zip(bs, map(chr, cs)))
    tokens = [f"<|special_{i}|>" for i in range(16)] + [symbol[b] for b in range(256)]
    pairs = [("\u0120", c) for c in "abcdefghijklmnopqrstuvwxyz"] + [tuple(p) for p in
             "th he in er an re on at en nd ti es or te of ed is it al ar st to ng se ha ou".split()]
    merges = [f"{a} {b}" for a, b in pairs[:size - len(tokens)]]
    tokens += [a + b for a, b in pairs[:size - len(tokens)]]
    assert len(tokens) == size, (len(tokens), size)
    return tokens, [3] * 16 + [1] * (size - 16), merges


def gemma_vocabulary(size):
    """Gemma's SentencePiece layout, small: what llama.cpp's _create_vocab_sentencepiece writes for it."""
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "[multimodal]"] + [f"<unused{i}>" for i in range(99)]
    tokens += ["<start_of_turn>", "<end_of_turn>"]
    types, scores = [3] * len(tokens), [-1000.0] * len(tokens)
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types, scores = types + [6] * 256, scores + [0.0] * 256
    chars = ["\u2581"] + list("abcdefghijklmnopqrstuvwxyz")
    merged = ["\u2581" + c for c in "tawsoi"] + "th he in er an re on at en nd ti es or te of ed is it al ar st to ng".split()
    merged += [a + b for a in "etaoinsrhl" for b in "abcdefghijklmnopqrstuvwxyz" if a + b not in merged]
    pieces = (chars + merged)[:size - len(tokens)]
    tokens += pieces
    types += [1] * len(pieces)
    scores += [0.0 if len(p) == 1 else -float(i) for i, p in enumerate(pieces)]
    assert len(tokens) == size, (len(tokens), size)
    return tokens, types, scores


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--type", choices=TYPES, required=True)
    p.add_argument("--ref")
    a = p.parse_args()
    cfg = json.load(open(os.path.join(a.dir, "config.json")))
    arch = ARCH[cfg["architectures"][0]]
    dtypes = {}
    weights = read_safetensors(os.path.join(a.dir, "model.safetensors"), dtypes)
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)

    K = lambda key: f"{arch}.{key}"  # noqa: E731
    kvs = [kv("general.architecture", 8, arch), kv("general.name", 8, "hf-to-gguf-test"),
           kv(K("block_count"), 4, cfg["num_hidden_layers"]), kv(K("context_length"), 4, cfg["max_position_embeddings"]),
           kv(K("embedding_length"), 4, cfg["hidden_size"]), kv(K("feed_forward_length"), 4, cfg["intermediate_size"]),
           kv(K("attention.head_count"), 4, n_head), kv(K("attention.head_count_kv"), 4, n_kv),
           kv(K("rope.freq_base"), 6, cfg.get("rope_theta", 10000.0)),
           kv(K("attention.layer_norm_rms_epsilon"), 6, cfg["rms_norm_eps"])]
    if "head_dim" in cfg:
        kvs += [kv(K("attention.key_length"), 4, cfg["head_dim"]), kv(K("attention.value_length"), 4, cfg["head_dim"])]
    if arch == "gemma3":
        kvs.append(kv(K("attention.sliding_window"), 4, cfg["sliding_window"]))
        if cfg.get("rope_scaling"):
            assert cfg["rope_scaling"]["rope_type"] == "linear"
            kvs += [kv(K("rope.scaling.type"), 8, "linear"), kv(K("rope.scaling.factor"), 6, cfg["rope_scaling"]["factor"])]
    if arch == "llama":
        kvs += [kv(K("vocab_size"), 4, cfg["vocab_size"]),
                kv(K("rope.dimension_count"), 4, cfg.get("head_dim", cfg["hidden_size"] // n_head))]
    eos = cfg["eos_token_id"] if isinstance(cfg["eos_token_id"], list) else [cfg["eos_token_id"]]
    if arch == "gemma3":
        tokens, types, scores = gemma_vocabulary(cfg["vocab_size"])
        kvs += [kv("tokenizer.ggml.model", 8, "llama"), kv("tokenizer.ggml.pre", 8, "default"),
                kv("tokenizer.ggml.tokens", 9, (8, tokens)), kv("tokenizer.ggml.scores", 9, (6, scores)),
                kv("tokenizer.ggml.token_type", 9, (5, types)), kv("tokenizer.ggml.bos_token_id", 4, cfg["bos_token_id"]),
                kv("tokenizer.ggml.eos_token_id", 4, eos[0]), kv("tokenizer.ggml.unknown_token_id", 4, 3),
                kv("tokenizer.ggml.padding_token_id", 4, 0), kv("tokenizer.ggml.add_bos_token", 7, True),
                kv("tokenizer.ggml.add_eos_token", 7, False), kv("tokenizer.ggml.add_space_prefix", 7, False)]
    else:
        tokens, types, merges = vocabulary(cfg["vocab_size"])
        kvs += [kv("tokenizer.ggml.model", 8, "gpt2"), kv("tokenizer.ggml.pre", 8, "llama-bpe" if arch == "llama" else "qwen2"),
                kv("tokenizer.ggml.tokens", 9, (8, tokens)), kv("tokenizer.ggml.token_type", 9, (5, types)),
                kv("tokenizer.ggml.merges", 9, (8, merges)), kv("tokenizer.ggml.bos_token_id", 4, cfg["bos_token_id"]),
                kv("tokenizer.ggml.eos_token_id", 4, eos[0]), kv("tokenizer.ggml.add_bos_token", 7, arch == "llama")]
    for key, tid in zip(["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"], eos[1:]):
        kvs.append(kv(key, 4, tid))

    specs = []  # (gguf name, hf name or None, float32 array in file row order, ggml type)
    for hf, w in weights.items():
        if hf.endswith(("q_proj.weight", "q_proj.bias")) and arch == "llama":
            w = permute(w, n_head)
        if hf.endswith(("k_proj.weight", "k_proj.bias")) and arch == "llama":
            w = permute(w, n_kv)
        if arch == "gemma3" and hf.endswith("norm.weight"):
            # norm_shift: + 1 in the dtype the converter holds the tensor in (float32 for bf16, float16 kept)
            w = (w.astype(np.float16) + np.float16(1)).astype(np.float32) if dtypes[hf] == "F16" else w + np.float32(1)
        t = TYPES[a.type] if w.ndim == 2 else F32
        if t == Q8_0 and w.shape[-1] % 32 != 0:
            t = F16  # the converter's fallback for rows that are not whole blocks
        specs.append((gguf_name(hf, GEMMA_LAYER if arch == "gemma3" else LAYER), hf, w, t))
    freqs = rope_freqs(cfg)
    if freqs is not None:
        specs.append(("rope_freqs.weight", None, freqs, F32))

    tensors = []
    for name, hf, arr, t in specs:
        data, back = encode(arr, t)
        if a.ref and hf is not None:
            os.makedirs(a.ref, exist_ok=True)
            if hf.endswith("q_proj.weight") and arch == "llama":
                back = unpermute(back, n_head)
            if hf.endswith("k_proj.weight") and arch == "llama":
                back = unpermute(back, n_kv)
            np.asarray(back, dtype="<f4").tofile(os.path.join(a.ref, f"{hf}.f32"))
        tensors.append((name, arr.shape, t, data))
    write_gguf(a.out, kvs, tensors)
    print(json.dumps({"out": a.out, "tensors": len(specs), "rope_freqs": None if freqs is None else freqs.tolist()}))


if __name__ == "__main__":
    main()
