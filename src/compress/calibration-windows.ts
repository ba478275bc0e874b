import { ShrinkrayError } from '../errors.ts';
import { createRng } from '../kernels/seeded-rng.ts';

/**
 * Calibration text -> windows of token ids. Documents (separated by `<|endoftext|>`) are
 * encoded each with its BOS, joined into one stream and cut into consecutive windows of
 * `windowLength` tokens (512, or the context length if shorter: GPTQ's practice of fixed
 * windows from a text stream). When there are more than `count` windows, a seeded shuffle
 * picks `count` of them, kept in stream order; a text shorter than one window gives one
 * shorter window. The same text, options and seed give the same windows.
 */
export const DOCUMENT_SEPARATOR = '<|endoftext|>';
export const DEFAULT_WINDOW_LENGTH = 512;
export const DEFAULT_WINDOW_COUNT = 128;

export interface WindowOptions {
  windowLength: number;
  count: number;
  seed: number;
}

export interface CalibrationWindows {
  windows: Int32Array[];
  available: number; // whole windows in the text
  tokens: number; // tokens of the text stream
}

/** `encode` turns one document into ids beginning with BOS (when the model has one). */
export function calibrationWindows(text: string, encode: (doc: string) => number[], o: WindowOptions): CalibrationWindows {
  for (const [field, v, min] of [
    ['windowLength', o.windowLength, 2],
    ['count', o.count, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min)
      throw new ShrinkrayError('bad_argument', `calibration ${field} must be an integer >= ${min}, got ${v}`);
  }
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff)
    throw new ShrinkrayError('bad_argument', `calibration seed must be an integer in 0..2^32-1, got ${o.seed}`);
  const docs = text
    .split(DOCUMENT_SEPARATOR)
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
  const stream: number[] = [];
  for (const d of docs) for (const id of encode(d)) stream.push(id);
  if (stream.length < 2)
    throw new ShrinkrayError('bad_argument', `the calibration text holds ${stream.length} token(s); at least 2 are needed`);
  const L = o.windowLength;
  const available = Math.floor(stream.length / L);
  if (available === 0) return { windows: [Int32Array.from(stream)], available: 0, tokens: stream.length };
  const order = Array.from({ length: available }, (_, i) => i);
  if (available > o.count) {
    const next = createRng(o.seed);
    for (let i = available - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
  }
  const picked = order.slice(0, o.count).sort((a, b) => a - b);
  return { windows: picked.map((w) => Int32Array.from(stream.slice(w * L, (w + 1) * L))), available, tokens: stream.length };
}
