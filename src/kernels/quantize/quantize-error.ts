import { ShrinkrayError } from '../../errors.ts';

/**
 * Relative Frobenius error ||W - W_hat|| / ||W||, summed in f64. A zero W gives 0 when W_hat
 * is zero too, else Infinity (any error is infinitely large relative to nothing).
 */
export function relativeFrobeniusError(w: Float32Array, wHat: Float32Array): number {
  if (w.length !== wHat.length) {
    throw new ShrinkrayError('bad_argument', `relativeFrobeniusError: W has ${w.length} values but W_hat has ${wHat.length}`);
  }
  let num = 0;
  let den = 0;
  for (let i = 0; i < w.length; i++) {
    const d = w[i] - wHat[i];
    num += d * d;
    den += w[i] * w[i];
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}
