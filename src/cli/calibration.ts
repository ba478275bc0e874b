import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceCalibBackend, wasmCalibBackend } from '../compress/calib-backend.ts';
import { calibrationWindows, DEFAULT_WINDOW_COUNT, DEFAULT_WINDOW_LENGTH } from '../compress/calibration-windows.ts';
import type { CalibrationInput } from '../compress/calibrated-model.ts';
import { recipeNeedsCalibration, type Recipe } from '../compress/recipe.ts';
import type { CalibrationText } from '../compress/report.ts';
import type { ModelConfig } from '../model/config.ts';
import { createCalibPoolNode } from '../node/calib-pool-node.ts';
import { readUserFile } from '../node/fs-errors.ts';
import { loadCalibWasmNode } from '../node/kernel-wasm-node.ts';
import type { TextTokenizer } from '../runtime/tokenizer.ts';
import { numberOption, usageError, type ParsedArgs } from './args.ts';

/**
 * `compress --calib <textfile> [--calib-windows N] [--calib-seed S]`: the calibration text,
 * cut into windows of the model's tokens (calibration-windows.ts). Recipes that need
 * calibration (GPTQ, AWQ, Wanda, SparseGPT) use the built-in English sample when no file is
 * given; the structured steps use activations only when a file is given.
 */
export const BUILT_IN_CALIBRATION = fileURLToPath(new URL('../../public/text/english-sample.txt', import.meta.url));

/** Calibration text beyond this is refused: 128 windows of 512 tokens need a few MB at most. */
const MAX_CALIBRATION_BYTES = 256 * 1024 * 1024;

export interface CliCalibration {
  input: CalibrationInput;
  text: CalibrationText;
  /** Stops the worker threads the kernels ran on. */
  close(): void;
}

/** Whether calibration text comes with this compression: given, or needed by the recipe. */
export function wantsCalibration(args: ParsedArgs, recipe: Recipe): boolean {
  return args.options.has('calib') || recipeNeedsCalibration(recipe);
}

export async function cliCalibration(args: ParsedArgs, config: ModelConfig, tokenizer: TextTokenizer): Promise<CliCalibration> {
  const file = args.options.get('calib') ?? BUILT_IN_CALIBRATION;
  const count = numberOption(args, 'calib-windows', DEFAULT_WINDOW_COUNT);
  const seed = numberOption(args, 'calib-seed', 0);
  if (!Number.isInteger(count) || count < 1) throw usageError(`--calib-windows must be an integer >= 1, got ${count}`);
  const text = (
    await readUserFile(file, args.options.has('calib') ? '--calib' : 'the built-in calibration text', MAX_CALIBRATION_BYTES)
  ).toString('utf8');
  const windowLength = Math.min(DEFAULT_WINDOW_LENGTH, config.maxPositionEmbeddings);
  const w = calibrationWindows(text, (doc) => tokenizer.encode(doc, { addBos: true }), { windowLength, count, seed });
  // The WASM SIMD kernel is what the compress worker runs too, so both write the same bytes;
  // the scalar reference (float64 sums) stands in when the kernel is not built.
  // Its large products go to one worker thread per core (the same bits: calib-pool.ts).
  const kernel = await loadCalibWasmNode().catch(() => null);
  const pool = kernel && availableParallelism() > 1 ? await createCalibPoolNode() : undefined;
  const name = args.options.has('calib') ? basename(file) : `built-in: ${basename(file)}`;
  return {
    input: { windows: w.windows, backend: kernel ? wasmCalibBackend(kernel, pool) : referenceCalibBackend },
    text: { name, windowLength, seed, available: w.available },
    close: () => pool?.close(),
  };
}
