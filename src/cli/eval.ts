import { requireOption, requirePositional, usageError, type ParsedArgs } from './args.ts';
import { readUserFile } from '../node/fs-errors.ts';
import { loadEngine } from '../node/load-engine.ts';
import { engineOptions, engineSummary } from './engine-options.ts';
import { evaluatePerplexity } from '../runtime/perplexity.ts';

// Well under V8's longest string (2^29 characters); far above any evaluation text.
const MAX_TEXT_BYTES = 256 * 1024 * 1024;

async function readText(path: string): Promise<string> {
  return (await readUserFile(path, '--text', MAX_TEXT_BYTES)).toString('utf8');
}

/**
 * `shrinkray eval <dir> --text <file> [--max-docs N] [--engine cpu|onnx|reference] [--threads N]`:
 * perplexity over the documents of <file> (separated by <|endoftext|>). The last stdout line is
 * JSON: {"nll","ppl","tokens","docs","seconds","prefillTokensPerSecond","engine","threads",...}.
 */
export async function runEval(args: ParsedArgs): Promise<void> {
  const dir = requirePositional(args, 0, 'the model folder: shrinkray eval <dir> --text <file>');
  const text = await readText(requireOption(args, 'text'));
  const rawMaxDocs = args.options.get('max-docs');
  const maxDocs = rawMaxDocs === undefined ? undefined : Number(rawMaxDocs);
  if (maxDocs !== undefined && !(Number.isInteger(maxDocs) && maxDocs >= 1)) {
    throw usageError(`--max-docs must be an integer >= 1, got '${rawMaxDocs}'`);
  }
  const engine = await loadEngine(dir, engineOptions(args));
  try {
    const started = performance.now();
    // Progress only where a person watches; pipes and tests get the JSON line alone.
    const onProgress = process.stderr.isTTY
      ? (p: { done: number; total: number }) => process.stderr.write(`\rscoring document ${p.done}/${p.total}`)
      : undefined;
    const result = await evaluatePerplexity(engine.model, engine.tokenizer, text, { maxDocs, onProgress, modelName: dir });
    if (onProgress) process.stderr.write('\n');
    const seconds = (performance.now() - started) / 1000;
    // Scoring is all prefill: tokens fed per second.
    const prefillTokensPerSecond = seconds > 0 ? result.tokens / seconds : 0;
    process.stdout.write(`${JSON.stringify({ ...result, seconds, prefillTokensPerSecond, ...engineSummary(engine) })}\n`);
  } finally {
    await engine.dispose();
  }
}
