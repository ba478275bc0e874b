#!/usr/bin/env python3
"""SLEB's calibration losses, computed apart from the TypeScript code: for each given set of
removed decoder blocks, the mean next-token NLL (nats) over every predicted token of the windows,
of llama_family.py's float64 forward pass on the model without those blocks (the kept blocks
renumbered, as dropBlocksIr does). No stream cache: each set is a whole forward pass.

usage: sleb_losses.py <model dir> <windows.json: [[ids...], ...]> <sets.json: [[block, ...], ...]>
prints [loss per set]
"""
import json
import os
import re
import sys

import numpy as np

from llama_family import forward, read_safetensors

LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)$")


def without(cfg, weights, removed):
    kept = [l for l in range(cfg["num_hidden_layers"]) if l not in removed]
    index = {old: new for new, old in enumerate(kept)}
    w = {}
    for name, t in weights.items():
        m = LAYER.match(name)
        if not m:
            w[name] = t
        elif int(m.group(1)) in index:
            w[f"model.layers.{index[int(m.group(1))]}.{m.group(2)}"] = t
    return {**cfg, "num_hidden_layers": len(kept)}, w


def mean_nll(cfg, weights, windows):
    total, n = 0.0, 0
    for ids in windows:
        logits = forward(cfg, weights, ids)[0][:-1]  # [T - 1, vocab]: position t predicts ids[t + 1]
        z = logits - logits.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        total -= logp[np.arange(len(ids) - 1), ids[1:]].sum()
        n += len(ids) - 1
    return total / n


def main():
    folder, windows_file, sets_file = sys.argv[1:4]
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    with open(windows_file) as f:
        windows = json.load(f)
    with open(sets_file) as f:
        sets = json.load(f)
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    json.dump([mean_nll(*without(cfg, weights, set(s)), windows) for s in sets], sys.stdout)


if __name__ == "__main__":
    main()
