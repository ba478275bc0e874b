#!/usr/bin/env python3
"""Independent float64 references for low-rank factorisation, with numpy's own SVD (LAPACK's
divide and conquer): no code shared with src/. Reads one JSON object on stdin:
  {"w": [N*K floats], "n": N, "k": K, "rank": r, "h": [K*K floats] or null, "damping": λ}
and prints {"s": the singular values of W (or of W S), "approx": the best rank-r W' [N*K]}:
plain, W' = U_r Σ_r V_rᵀ; whitened (SVD-LLM), S = cholesky(H + λ·mean(diag H)·I) and
W' = U_r Σ_r V_rᵀ S⁻¹ from the SVD of W S.
"""
import json
import sys

import numpy as np

job = json.load(sys.stdin)
n, k, r = job["n"], job["k"], job["rank"]
w = np.array(job["w"], dtype=np.float64).reshape(n, k)
target = w
s_factor = None
if job.get("h") is not None:
    h = np.array(job["h"], dtype=np.float64).reshape(k, k)
    damp = job["damping"] * np.mean(np.diag(h))
    s_factor = np.linalg.cholesky(h + damp * np.eye(k))
    target = w @ s_factor
u, s, vt = np.linalg.svd(target, full_matrices=False)
approx = (u[:, :r] * s[:r]) @ vt[:r, :]
if s_factor is not None:
    approx = np.linalg.solve(s_factor.T, approx.T).T  # approx · S⁻¹
print(json.dumps({"s": s.tolist(), "approx": approx.reshape(-1).tolist()}))
