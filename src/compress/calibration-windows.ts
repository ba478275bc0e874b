import { ShrinkrayError } from '../errors.ts';
import { createRng } from '../kernels/seeded-rng.ts';
import { DocumentPieces, type TextPiece } from '../formats/document-pieces.ts';

/**
 * Calibration text -> windows of token ids. Documents (separated by `<|endoftext|>`) are
 * encoded each with its BOS, joined into one stream and cut into consecutive windows of
 * `windowLength` tokens (512, or the context length if shorter: GPTQ's practice of fixed
 * windows from a text stream). When there are more than `count` windows, a seeded shuffle
 * picks `count` of them, kept in stream order; a text shorter than one window gives one
 * shorter window. The same text, options and seed give the same windows.
 *
 * Only what the draw needs is tokenized: documents are encoded in order (in bounded pieces,
 * document-pieces.ts) until the stream holds a pool of poolWindows(count) windows; the draw is
 * made from that pool. A text below the pool (the 1.2 MB TinyStories calibration text is 600 K
 * tokens, the pool for 128 windows 1 M) draws from all of it, exactly as before the pool existed.
 */
export const DEFAULT_WINDOW_LENGTH = 512;
export const DEFAULT_WINDOW_COUNT = 128;

/** Windows one compression may calibrate on: 32 times GPTQ's 128, 2 M tokens of 512 (their activations are the cost). */
export const MAX_WINDOW_COUNT = 4096;

/**
 * Windows the draw picks from: enough for a varied pick, a bounded cost for a 200 MB text
 * (1 M tokens for up to 512 windows of 512; at most 16 K windows, 8 M tokens, 64 MB of ids).
 */
export function poolWindows(count: number): number {
  return Math.max(2048, 4 * count);
}

export interface WindowOptions {
  windowLength: number;
  count: number;
  seed: number;
}

export interface CalibrationWindows {
  windows: Int32Array[];
  available: number; // whole windows drawn from (all of the text's, below the pool)
  tokens: number; // tokens of the stream tokenized
}

/** `encode` turns one piece into ids, with the BOS first (when the model has one) where `bos` is set. */
export type PieceEncoder = (text: string, bos: boolean) => number[];

function checkOptions(o: WindowOptions): void {
  if (!Number.isInteger(o.windowLength) || o.windowLength < 2)
    throw new ShrinkrayError('bad_argument', `calibration windowLength must be an integer >= 2, got ${o.windowLength}`);
  if (!Number.isInteger(o.count) || o.count < 1)
    throw new ShrinkrayError('bad_argument', `calibration count must be an integer >= 1, got ${o.count}`);
  if (o.count > MAX_WINDOW_COUNT)
    throw new ShrinkrayError(
      'bad_argument',
      `calibration count ${o.count} is above the ${MAX_WINDOW_COUNT} windows one compression calibrates on`,
    );
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff)
    throw new ShrinkrayError('bad_argument', `calibration seed must be an integer in 0..2^32-1, got ${o.seed}`);
}

/**
 * The token stream, fed block by block: `push` returns false once the pool is full (the rest
 * of the text is not needed), `finish` draws the windows.
 */
export class WindowDraw {
  private readonly stream: number[] = [];
  private readonly limit: number;
  private readonly pieces: DocumentPieces;

  constructor(
    encode: PieceEncoder,
    private readonly o: WindowOptions,
  ) {
    checkOptions(o);
    this.limit = poolWindows(o.count) * o.windowLength;
    this.pieces = new DocumentPieces((p: TextPiece) => {
      for (const id of encode(p.text, p.first)) this.stream.push(id);
      return !this.full;
    });
  }

  get full(): boolean {
    return this.stream.length >= this.limit;
  }

  get tokens(): number {
    return this.stream.length;
  }

  /** Takes the next block of text; false once no more is needed. */
  push(block: string): boolean {
    if (!this.full) this.pieces.push(block);
    return !this.full;
  }

  finish(): CalibrationWindows {
    if (!this.full) this.pieces.end();
    const stream = this.stream.length > this.limit ? this.stream.slice(0, this.limit) : this.stream;
    if (stream.length < 2)
      throw new ShrinkrayError('bad_argument', `the calibration text holds ${stream.length} token(s); at least 2 are needed`);
    const L = this.o.windowLength;
    const available = Math.floor(stream.length / L);
    if (available === 0) return { windows: [Int32Array.from(stream)], available: 0, tokens: stream.length };
    const order = Array.from({ length: available }, (_, i) => i);
    if (available > this.o.count) {
      const next = createRng(this.o.seed);
      for (let i = available - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    const picked = order.slice(0, this.o.count).sort((a, b) => a - b);
    return { windows: picked.map((w) => Int32Array.from(stream.slice(w * L, (w + 1) * L))), available, tokens: stream.length };
  }
}

/** The windows of a whole text. */
export function calibrationWindows(text: string, encode: PieceEncoder, o: WindowOptions): CalibrationWindows {
  const draw = new WindowDraw(encode, o);
  draw.push(text);
  return draw.finish();
}
