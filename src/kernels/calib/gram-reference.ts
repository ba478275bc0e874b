/**
 * The scalar reference of the Gram matrix of one calibration window: g = xᵀx, summed in
 * float64 in token order. The WASM SIMD kernel sums in f32 (calib-wasm.ts); both feed a
 * float64 total over windows.
 *   x: [T, K] -> g: [K, K]
 */
export function gramReference(x: Float32Array, T: number, K: number): Float64Array {
  const g = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = i; j < K; j++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += x[t * K + i]! * x[t * K + j]!;
      g[i * K + j] = s;
      g[j * K + i] = s;
    }
  }
  return g;
}

/** aᵀb of one window, float64 sums in token order.  a, b: [T, K] -> [K, K] */
export function crossReference(a: Float32Array, b: Float32Array, T: number, K: number): Float64Array {
  const g = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += a[t * K + i]! * b[t * K + j]!;
      g[i * K + j] = s;
    }
  }
  return g;
}
