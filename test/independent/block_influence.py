#!/usr/bin/env python3
"""Block Influence (ShortGPT: 1 - mean over tokens of cos(h_in, h_out) of each decoder block),
computed apart from the TypeScript code, two ways:
- "forward": on the residual streams of llama_family.py's own float64 forward pass;
- "given": on the streams the TypeScript pass produced, read from a raw float32 file laid out
  [window, block boundary (numLayers + 1), T, hidden]; this checks the cosines and the mean alone.

usage: block_influence.py <model dir> <windows.json: [[ids...], ...]> [<streams.f32>]
prints {"forward": [BI per block], "given": [BI per block] | null}
"""
import json
import os
import sys

import numpy as np

from llama_family import forward, read_safetensors


def influence(streams_per_window):
    """streams_per_window: per window, a list of numLayers + 1 arrays [T, hidden]."""
    layers = len(streams_per_window[0]) - 1
    sums = np.zeros(layers)
    tokens = 0
    for streams in streams_per_window:
        for l in range(layers):
            a, b = streams[l].astype(np.float64), streams[l + 1].astype(np.float64)
            cos = (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
            sums[l] += cos.sum()
        tokens += streams[0].shape[0]
    return (1 - sums / tokens).tolist()


def main():
    folder, windows_file = sys.argv[1], sys.argv[2]
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    with open(windows_file) as f:
        windows = json.load(f)
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    ours = []
    for ids in windows:
        streams = []
        forward(cfg, weights, ids, streams)
        ours.append(streams)
    given = None
    if len(sys.argv) > 3:
        L, H = cfg["num_hidden_layers"], cfg["hidden_size"]
        raw = np.fromfile(sys.argv[3], dtype="<f4")
        given, at = [], 0
        for ids in windows:
            n = (L + 1) * len(ids) * H
            given.append(list(raw[at : at + n].reshape(L + 1, len(ids), H)))
            at += n
        given = influence(given)
    json.dump({"forward": influence(ours), "given": given}, sys.stdout)


if __name__ == "__main__":
    main()
