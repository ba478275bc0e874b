import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceCalibBackend, wasmCalibBackend } from '../compress/calib-backend.ts';
import {
  DEFAULT_WINDOW_COUNT,
  DEFAULT_WINDOW_LENGTH,
  MAX_WINDOW_COUNT,
  poolWindows,
  WindowDraw,
  type WindowOptions,
} from '../compress/calibration-windows.ts';
import type { CalibrationInput } from '../compress/calibrated-model.ts';
import { recipeNeedsCalibration, type Recipe } from '../compress/recipe.ts';
import type { CalibrationText } from '../compress/report.ts';
import { isShrinkrayError, ShrinkrayError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import { createCalibPoolNode } from '../node/calib-pool-node.ts';
import { GuardedTokenizer } from '../node/guarded-tokenizer.ts';
import { userTextBlocks } from '../node/user-text-blocks.ts';
import { loadCalibWasmNode } from '../node/kernel-wasm-node.ts';
import type { TokenizerParts } from '../runtime/runnable-model.ts';
import { numberOption, usageError, type ParsedArgs } from './args.ts';

/**
 * `compress --calib <textfile> [--calib-windows N] [--calib-seed S]`: the calibration text,
 * cut into windows of the model's tokens (calibration-windows.ts). Recipes that need
 * calibration (GPTQ, AWQ, Wanda, SparseGPT) use the built-in English sample when no file is
 * given; the structured steps use activations only when a file is given.
 */
export const BUILT_IN_CALIBRATION = fileURLToPath(new URL('../../public/text/english-sample.txt', import.meta.url));

/** Calibration text beyond this is refused (only its beginning is read: the pool of 1 M tokens is a few MB). */
const MAX_CALIBRATION_BYTES = 256 * 1024 * 1024;

export interface CliCalibration {
  input: CalibrationInput;
  text: CalibrationText;
  /** Stops the worker threads the kernels ran on. */
  close(): void;
}

/**
 * Wall time for tokenizing the calibration pool: a backstop, far above any real tokenizer
 * (they encode over 100 K tokens a second; this allows 2 K a second, plus a minute), for one
 * slow on every piece yet under the per-call budget (TOKENIZER_BUDGET.callMs, guarded-tokenizer.ts).
 */
const tokenizeBudgetMs = (o: WindowOptions) => 60_000 + poolWindows(o.count) * o.windowLength * 0.5;

/**
 * Reads `file` block by block until the draw's pool is full, tokenizing on the guarded thread
 * (a runaway regular expression or a tokenizer that eats memory is stopped there).
 */
async function tokenizedWindows(file: string, what: string, parts: TokenizerParts, o: WindowOptions) {
  const tokenizer = await GuardedTokenizer.create(parts);
  const started = performance.now();
  const budgetMs = tokenizeBudgetMs(o);
  const draw = new WindowDraw((text, bos) => {
    if (performance.now() - started > budgetMs) {
      throw new ShrinkrayError(
        'bad_file',
        `${parts.names.tokenizer}: tokenizing ${what} ${file} took over ${budgetMs / 1000} s (${draw.tokens} tokens so far); the tokenizer is too slow for this text`,
      );
    }
    return tokenizer.encode(text, { addBos: bos });
  }, o);
  try {
    for await (const block of userTextBlocks(file, what, MAX_CALIBRATION_BYTES)) if (!draw.push(block)) break;
    return draw.finish();
  } catch (e) {
    // Which text the tokenizer failed on, beside the file whose code ran (the guard names it).
    if (isShrinkrayError(e) && !e.message.includes(file)) throw new ShrinkrayError(e.code, `${what} ${file}: ${e.message}`, { cause: e });
    throw e;
  } finally {
    await tokenizer.dispose();
  }
}

/** Whether calibration text comes with this compression: given, or needed by the recipe. */
export function wantsCalibration(args: ParsedArgs, recipe: Recipe): boolean {
  return args.options.has('calib') || recipeNeedsCalibration(recipe);
}

export async function cliCalibration(args: ParsedArgs, config: ModelConfig, parts: TokenizerParts): Promise<CliCalibration> {
  const file = args.options.get('calib') ?? BUILT_IN_CALIBRATION;
  const count = numberOption(args, 'calib-windows', DEFAULT_WINDOW_COUNT);
  const seed = numberOption(args, 'calib-seed', 0);
  if (!Number.isInteger(count) || count < 1) throw usageError(`--calib-windows must be an integer >= 1, got ${count}`);
  if (count > MAX_WINDOW_COUNT)
    throw usageError(`--calib-windows ${count} is above the ${MAX_WINDOW_COUNT} windows one compression calibrates on`);
  const windowLength = Math.min(DEFAULT_WINDOW_LENGTH, config.maxPositionEmbeddings);
  const what = args.options.has('calib') ? '--calib' : 'the built-in calibration text';
  const w = await tokenizedWindows(file, what, parts, { windowLength, count, seed });
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
