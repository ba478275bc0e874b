import type { EngineChoice } from '../jobs/open-engine.ts';
import { ENGINE_CHOICES, type LoadedEngine, type LoadEngineOptions } from '../node/load-engine.ts';
import { usageError, type ParsedArgs } from './args.ts';

/** `--engine cpu|onnx|reference` and `--threads N` of generate and eval. */
export function engineOptions(args: ParsedArgs): LoadEngineOptions {
  const engine = args.options.get('engine') ?? 'cpu';
  if (!ENGINE_CHOICES.includes(engine as EngineChoice)) {
    throw usageError(`--engine must be ${ENGINE_CHOICES.join(', ')}, got '${engine}'`);
  }
  const raw = args.options.get('threads');
  const threads = raw === undefined ? undefined : Number(raw);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 64)) {
    throw usageError(`--threads must be an integer from 1 to 64, got '${raw}'`);
  }
  return { engine: engine as EngineChoice, threads };
}

/** What the JSON line says about the engine: its name, threads, SIMD flavour, and a fallback's reason. */
export function engineSummary(e: LoadedEngine): Record<string, unknown> {
  return {
    engine: e.kind,
    threads: e.threads,
    ...(e.simd ? { simd: e.simd } : {}),
    ...(e.fallback ? { fallback: e.fallback } : {}),
    ...(e.weights ? { weights: e.weights } : {}),
  };
}
