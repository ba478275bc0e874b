"""A tiny random Llama model written as GGUF v3 with every tensor type Shrinkray reads
(F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K), for test/node/import-gguf.test.ts.

Own code (numpy only), kept apart from the TypeScript importer it checks: Debian bookworm
has no python3-gguf (llama.cpp's gguf-py), so the K-quant encoders are written here from
ggml's block layouts (ggml-common.h / ggml-quants.c). Quantization is plain round-to-nearest
(not llama.cpp's iterative scale search): any valid encoding serves to check a decoder.

  python3 kquant_gguf.py OUT_DIR
writes OUT_DIR/kquant.gguf and, for every tensor, OUT_DIR/ref/<name>.f32: the values this
script's own numpy decoder gives (float32 arithmetic as in ggml's dequantize_row_*), row-major
in PyTorch order. The script checks that its decoder gives back the original weights within
each format's step, so encoder and decoder agree on the layout.
"""
import os
import struct
import sys

import numpy as np

F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, BF16 = 0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 30
BLOCK = {F32: (1, 4), F16: (1, 2), BF16: (1, 2), Q8_0: (32, 34), Q4_0: (32, 18), Q4_1: (32, 20), Q5_0: (32, 22), Q5_1: (32, 24),
         Q4_K: (256, 144), Q5_K: (256, 176), Q6_K: (256, 210)}
ALIGN = 32


def f16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


# ------------------------------------------------------------------ encoders: x [nblocks, values] float32 -> bytes

def enc_q8_0(x):
    d = f16(np.abs(x).max(axis=1) / 127)
    dd = d.astype(np.float32)[:, None]
    q = np.clip(np.round(np.divide(x, dd, out=np.zeros_like(x), where=dd != 0)), -127, 127).astype(np.int8)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), q.view(np.uint8)], axis=1)


def enc_q4_0(x):
    d = f16(np.abs(x).max(axis=1) / 7)
    dd = d.astype(np.float32)[:, None]
    q = (np.clip(np.round(np.divide(x, dd, out=np.zeros_like(x), where=dd != 0)), -8, 7) + 8).astype(np.uint8)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), q[:, :16] | (q[:, 16:] << 4)], axis=1)


def _min_step(x, levels):
    """Q4_1/Q5_1: w ~ d*q + m with q in 0..levels; d and m as f16."""
    m = f16(x.min(axis=1))
    d = f16((x.max(axis=1) - m.astype(np.float32)) / levels)
    dd = d.astype(np.float32)[:, None]
    shifted = x - m.astype(np.float32)[:, None]
    q = np.clip(np.round(np.divide(shifted, dd, out=np.zeros_like(x), where=dd != 0)), 0, levels).astype(np.uint32)
    return d, m, q


def _qh(q):
    """The fifth bits of 32 codes as ggml's u32 qh: bit j for value j, bit j + 16 for value j + 16 (j < 16)."""
    bits = ((q >> 4) & 1).astype(np.uint32) << np.arange(32, dtype=np.uint32)
    return bits.sum(axis=1, dtype=np.uint32).astype("<u4").view(np.uint8).reshape(-1, 4)


def _pairs(q):
    """Values j and j + 16 share byte j: low nibble, high nibble."""
    return ((q[:, :16] & 15) | ((q[:, 16:] & 15) << 4)).astype(np.uint8)


def enc_q4_1(x):
    d, m, q = _min_step(x, 15)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), m.view(np.uint8).reshape(-1, 2), _pairs(q)], axis=1)


def enc_q5_0(x):
    d = f16(np.abs(x).max(axis=1) / 15)
    dd = d.astype(np.float32)[:, None]
    q = (np.clip(np.round(np.divide(x, dd, out=np.zeros_like(x), where=dd != 0)), -16, 15) + 16).astype(np.uint32)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), _qh(q), _pairs(q)], axis=1)


def enc_q5_1(x):
    d, m, q = _min_step(x, 31)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), m.view(np.uint8).reshape(-1, 2), _qh(q), _pairs(q)], axis=1)


def _scales_mins(x, levels):
    """Per sub-block of 32: w ~ d*sc*q - dmin*m with q in 0..levels; returns d, dmin (f16), sc, m (6-bit), q."""
    sub = x.reshape(-1, 8, 32)
    lo = np.minimum(sub.min(axis=2), 0)
    hi = sub.max(axis=2)
    scale = (hi - lo) / levels
    mins = -lo
    d = f16(scale.max(axis=1) / 63)
    dmin = f16(mins.max(axis=1) / 63)
    dd, dm = d.astype(np.float32)[:, None], dmin.astype(np.float32)[:, None]
    sc = np.clip(np.round(np.divide(scale, dd, out=np.zeros_like(scale), where=dd != 0)), 0, 63).astype(np.uint8)
    m = np.clip(np.round(np.divide(mins, dm, out=np.zeros_like(mins), where=dm != 0)), 0, 63).astype(np.uint8)
    step = (dd * sc)[:, :, None]
    off = (dm * m)[:, :, None]
    q = np.clip(np.round(np.divide(sub + off, step, out=np.zeros_like(sub), where=step != 0)), 0, levels).astype(np.uint8)
    return d, dmin, sc, m, q.reshape(-1, 256)


def _pack_scales(sc, m):
    """ggml's 12-byte packing of eight 6-bit scales and mins (get_scale_min_k4 reads it back)."""
    out = np.zeros((sc.shape[0], 12), dtype=np.uint8)
    out[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    out[:, 4:8] = m[:, 0:4] | ((m[:, 4:8] >> 4) << 6)
    out[:, 8:12] = (sc[:, 4:8] & 15) | ((m[:, 4:8] & 15) << 4)
    return out


def _nibbles(q):
    """q [n, 256] (4 low bits used): chunk c of 64 -> 32 bytes, value l low nibble, value l+32 high nibble."""
    c = q.reshape(-1, 4, 2, 32) & 15
    return (c[:, :, 0, :] | (c[:, :, 1, :] << 4)).reshape(-1, 128)


def enc_q4_k(x):
    d, dmin, sc, m, q = _scales_mins(x, 15)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2), _pack_scales(sc, m), _nibbles(q)], axis=1)


def enc_q5_k(x):
    d, dmin, sc, m, q = _scales_mins(x, 31)
    h = (q >> 4).reshape(-1, 4, 2, 32)  # fifth bit: chunk c's first half at bit 2c, second half at bit 2c+1
    qh = np.zeros((q.shape[0], 32), dtype=np.uint8)
    for c in range(4):
        qh |= (h[:, c, 0, :] << (2 * c)) | (h[:, c, 1, :] << (2 * c + 1))
    parts = [d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2), _pack_scales(sc, m), qh, _nibbles(q)]
    return np.concatenate(parts, axis=1)


def enc_q6_k(x):
    sub = x.reshape(-1, 16, 16)
    scale = np.abs(sub).max(axis=2) / 31
    d = f16(scale.max(axis=1) / 127)
    dd = d.astype(np.float32)[:, None]
    sc = np.clip(np.round(np.divide(scale, dd, out=np.zeros_like(scale), where=dd != 0)), -128, 127).astype(np.int8)
    step = (dd * sc)[:, :, None]
    q = (np.clip(np.round(np.divide(sub, step, out=np.zeros_like(sub), where=step != 0)), -32, 31) + 32).astype(np.uint8)
    q = q.reshape(-1, 2, 4, 32)  # [block, half, quarter g, l]: value 128*half + 32*g + l
    ql = np.concatenate([(q[:, :, 0] & 15) | ((q[:, :, 2] & 15) << 4), (q[:, :, 1] & 15) | ((q[:, :, 3] & 15) << 4)], axis=2)
    qh = (q[:, :, 0] >> 4) | ((q[:, :, 1] >> 4) << 2) | ((q[:, :, 2] >> 4) << 4) | ((q[:, :, 3] >> 4) << 6)
    return np.concatenate([ql.reshape(-1, 128), qh.reshape(-1, 64), sc.view(np.uint8), d.view(np.uint8).reshape(-1, 2)], axis=1)


# ------------------------------------------------------------------ decoders: bytes -> float32, as ggml computes

def _half(b):
    return b.copy().view(np.float16).astype(np.float32).reshape(-1)


def dec_q8_0(b):
    return b[:, 2:].view(np.int8).astype(np.float32) * _half(b[:, 0:2])[:, None]


def dec_q4_0(b):
    q = np.concatenate([b[:, 2:] & 15, b[:, 2:] >> 4], axis=1).astype(np.float32) - 8
    return q * _half(b[:, 0:2])[:, None]


def _codes(qs, qh=None):
    """32 codes from 16 nibble bytes (value j low nibble of byte j, value j + 16 its high nibble), plus qh's fifth bits."""
    q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.uint32)
    if qh is not None:
        h = qh.copy().view("<u4").reshape(-1, 1)
        q |= ((h >> np.arange(32, dtype=np.uint32)) & 1) << 4
    return q.astype(np.float32)


def dec_q4_1(b):
    d, m = _half(b[:, 0:2])[:, None], _half(b[:, 2:4])[:, None]
    return (_codes(b[:, 4:20]) * d).astype(np.float32) + m


def dec_q5_0(b):
    return (_codes(b[:, 6:22], b[:, 2:6]) - 16) * _half(b[:, 0:2])[:, None]


def dec_q5_1(b):
    d, m = _half(b[:, 0:2])[:, None], _half(b[:, 2:4])[:, None]
    return (_codes(b[:, 8:24], b[:, 4:8]) * d).astype(np.float32) + m


def _unpack_scales(s):
    sc = np.concatenate([s[:, 0:4] & 63, (s[:, 8:12] & 15) | ((s[:, 0:4] >> 6) << 4)], axis=1)
    m = np.concatenate([s[:, 4:8] & 63, (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)], axis=1)
    return sc.astype(np.float32), m.astype(np.float32)


def _dec_k(b, qs_at, qh=None):
    d, dmin = _half(b[:, 0:2]), _half(b[:, 2:4])
    sc, m = _unpack_scales(b[:, 4:16])
    qs = b[:, qs_at:qs_at + 128].reshape(-1, 4, 32)
    q = np.stack([qs & 15, qs >> 4], axis=2).astype(np.float32)  # [n, chunk, half, 32]
    if qh is not None:
        for c in range(4):
            q[:, c, 0, :] += ((qh >> (2 * c)) & 1) * 16
            q[:, c, 1, :] += ((qh >> (2 * c + 1)) & 1) * 16
    d1 = (d[:, None] * sc).astype(np.float32).reshape(-1, 4, 2, 1)
    m1 = (dmin[:, None] * m).astype(np.float32).reshape(-1, 4, 2, 1)
    return ((d1 * q).astype(np.float32) - m1).reshape(-1, 256)


def dec_q4_k(b):
    return _dec_k(b, 16)


def dec_q5_k(b):
    return _dec_k(b, 48, b[:, 16:48])


def dec_q6_k(b):
    ql, qh, sc, d = b[:, 0:128].reshape(-1, 2, 64), b[:, 128:192].reshape(-1, 2, 32), b[:, 192:208].view(np.int8), _half(b[:, 208:210])
    lo = np.stack([ql[:, :, :32] & 15, ql[:, :, 32:] & 15, ql[:, :, :32] >> 4, ql[:, :, 32:] >> 4], axis=2)
    hi = np.stack([qh & 3, (qh >> 2) & 3, (qh >> 4) & 3, (qh >> 6) & 3], axis=2)
    q = ((lo | (hi << 4)).astype(np.int32) - 32).astype(np.float32).reshape(-1, 256)
    s = np.repeat((d[:, None] * sc.astype(np.float32)).astype(np.float32), 16, axis=1)
    return (s * q).astype(np.float32)


CODEC = {Q8_0: (enc_q8_0, dec_q8_0, 1 / 127), Q4_0: (enc_q4_0, dec_q4_0, 1 / 7), Q4_1: (enc_q4_1, dec_q4_1, 1 / 15),
         Q5_0: (enc_q5_0, dec_q5_0, 1 / 15), Q5_1: (enc_q5_1, dec_q5_1, 1 / 31), Q4_K: (enc_q4_k, dec_q4_k, 1 / 15),
         Q5_K: (enc_q5_k, dec_q5_k, 1 / 31), Q6_K: (enc_q6_k, dec_q6_k, 1 / 31)}


def encode(arr, t):
    """-> (bytes, what ggml's decoder gives back as float32, same shape)."""
    if t == F32:
        return arr.astype("<f4").tobytes(), arr
    if t == F16:
        h = arr.astype("<f2")
        return h.tobytes(), h.astype(np.float32)
    if t == BF16:
        bits = (arr.astype(np.float32).view(np.uint32) >> 16).astype("<u2")  # truncation: any bf16 pattern is valid
        return bits.tobytes(), (bits.astype(np.uint32) << 16).view(np.float32).reshape(arr.shape)
    enc, dec, rel = CODEC[t]
    n = BLOCK[t][0]
    blocks = enc(arr.reshape(-1, n).astype(np.float32))
    assert blocks.shape[1] == BLOCK[t][1], (t, blocks.shape)
    back = dec(blocks).reshape(arr.shape)
    # Each value within 1.5 steps of its block's range: the encoder and decoder agree on the layout.
    span = np.abs(arr.reshape(-1, n)).max(axis=1, keepdims=True) * 2
    err = np.abs(back.reshape(-1, n) - arr.reshape(-1, n))
    assert (err <= span * rel * 1.5 + 1e-6).all(), (t, float(err.max()))
    return blocks.tobytes(), back


# ------------------------------------------------------------------ the model

DIM, HEADS, KV_HEADS, FFN, LAYERS, CTX = 256, 4, 2, 512, 2, 128
LAYER_TYPES = [
    # Q4_1, Q5_0, Q5_1: llama.cpp's stand-ins for Q4_K, Q5_K when a row is not whole 256-blocks (Qwen2.5-0.5B's 896)
    dict(attn_q=Q4_K, attn_k=Q5_K, attn_v=Q6_K, attn_output=BF16, ffn_gate=Q4_1, ffn_up=Q5_0, ffn_down=Q5_1),
    dict(attn_q=Q6_K, attn_k=Q4_K, attn_v=Q5_K, attn_output=F16, ffn_gate=Q8_0, ffn_up=Q4_0, ffn_down=F32),
]


def vocab():
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces += list(letters) + ["\u2581"] + ["\u2581" + c for c in letters] + ["th", "he", "in", "er", "an", "re", "on", "at"]
    types = [2, 3, 3] + [6] * 256 + [1] * (len(pieces) - 259)
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces) - 259)]
    return pieces, np.array(scores, dtype=np.float32), np.array(types, dtype=np.int32)


def kv(key, vtype, value):
    out = struct.pack("<Q", len(key.encode())) + key.encode() + struct.pack("<I", vtype)
    if vtype == 8:
        return out + struct.pack("<Q", len(value.encode())) + value.encode()
    if vtype == 9:
        et, items = value
        out += struct.pack("<IQ", et, len(items))
        if et == 8:
            return out + b"".join(struct.pack("<Q", len(s.encode())) + s.encode() for s in items)
        return out + np.asarray(items, dtype={6: "<f4", 5: "<i4"}[et]).tobytes()
    return out + struct.pack({4: "<I", 6: "<f", 7: "<?"}[vtype], value)


def write_gguf(path, kvs, tensors):
    """A GGUF v3 file: the encoded key/values (kv()), then each tensor's info and its data at ALIGN.
    tensors: (name, numpy shape, ggml type, data bytes); ggml writes the fastest dimension first."""
    infos, blobs, offset = b"", [], 0
    for name, shape, t, data in tensors:
        ne = tuple(reversed(shape))
        infos += struct.pack("<Q", len(name)) + name.encode() + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        infos += struct.pack("<IQ", t, offset)
        pad = (-len(data)) % ALIGN
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + infos
    header += b"\0" * ((-len(header)) % ALIGN)
    with open(path, "wb") as f:
        f.write(header)
        for b in blobs:
            f.write(b)


def main(out):
    os.makedirs(os.path.join(out, "ref"), exist_ok=True)
    rng = np.random.default_rng(13)
    pieces, scores, types = vocab()
    hd = DIM // HEADS
    specs = [("token_embd.weight", (len(pieces), DIM), Q4_K)]
    for i, lt in enumerate(LAYER_TYPES):
        specs.append((f"blk.{i}.attn_norm.weight", (DIM,), F32))
        for name, shape in [("attn_q", (DIM, DIM)), ("attn_k", (KV_HEADS * hd, DIM)), ("attn_v", (KV_HEADS * hd, DIM)),
                            ("attn_output", (DIM, DIM))]:
            specs.append((f"blk.{i}.{name}.weight", shape, lt[name]))
        specs.append((f"blk.{i}.ffn_norm.weight", (DIM,), F32))
        for name, shape in [("ffn_gate", (FFN, DIM)), ("ffn_up", (FFN, DIM)), ("ffn_down", (DIM, FFN))]:
            specs.append((f"blk.{i}.{name}.weight", shape, lt[name]))
    specs += [("output_norm.weight", (DIM,), F32), ("output.weight", (len(pieces), DIM), Q6_K)]

    kvs = [kv("general.architecture", 8, "llama"), kv("general.name", 8, "kquant-test"),
           kv("llama.context_length", 4, CTX), kv("llama.embedding_length", 4, DIM), kv("llama.block_count", 4, LAYERS),
           kv("llama.feed_forward_length", 4, FFN), kv("llama.attention.head_count", 4, HEADS),
           kv("llama.attention.head_count_kv", 4, KV_HEADS), kv("llama.rope.dimension_count", 4, hd),
           kv("llama.attention.layer_norm_rms_epsilon", 6, 1e-5), kv("llama.rope.freq_base", 6, 10000.0),
           kv("tokenizer.ggml.model", 8, "llama"), kv("tokenizer.ggml.tokens", 9, (8, pieces)),
           kv("tokenizer.ggml.scores", 9, (6, scores)), kv("tokenizer.ggml.token_type", 9, (5, types)),
           kv("tokenizer.ggml.bos_token_id", 4, 1), kv("tokenizer.ggml.eos_token_id", 4, 2),
           kv("tokenizer.ggml.unknown_token_id", 4, 0)]
    tensors = []
    for name, shape, t in specs:
        # Norms near 1, weights N(0, 0.05) with a few outliers so scales differ between sub-blocks.
        arr = (1 + 0.1 * rng.standard_normal(shape) if len(shape) == 1 else 0.05 * rng.standard_normal(shape)).astype(np.float32)
        if len(shape) == 2:
            arr[rng.random(shape) < 0.01] *= 8
        data, back = encode(arr, t)
        back.astype("<f4").tofile(os.path.join(out, "ref", f"{name}.f32"))
        tensors.append((name, shape, t, data))
    write_gguf(os.path.join(out, "kquant.gguf"), kvs, tensors)
    print(f"wrote {os.path.join(out, 'kquant.gguf')}: {len(specs)} tensors")


if __name__ == "__main__":
    main(sys.argv[1])
