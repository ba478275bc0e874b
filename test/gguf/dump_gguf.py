"""Dequantizes every tensor of a GGUF file with the wllama anchor's own reader (an independent
writer's code: shared/anchors/wllama/gguf_writer.py read_gguf), for test/node/import-gguf.test.ts.

  python3 dump_gguf.py ANCHOR_COPY_DIR FILE.gguf OUT_DIR
writes OUT_DIR/<tensor name>.f32: float32, row-major in PyTorch order (GGUF's ne[0] fastest).
"""
import os
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
from gguf_writer import read_gguf  # noqa: E402

_, _, tensors = read_gguf(sys.argv[2])
os.makedirs(sys.argv[3], exist_ok=True)
for name, (_, _, values) in tensors.items():
    np.asarray(values, dtype="<f4").tofile(os.path.join(sys.argv[3], f"{name}.f32"))
print(f"dumped {len(tensors)} tensors")
