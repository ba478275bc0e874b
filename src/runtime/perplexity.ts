import { ShrinkrayError } from '../errors.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { DOCUMENT_SEPARATOR, documentPieces, PIECE_CHARS } from '../formats/document-pieces.ts';
import type { ModelTokenizer } from './tokenizer.ts';

export interface PerplexityOptions {
  maxDocs?: number; // score only the first N non-empty documents
  contextLength?: number; // defaults to config.maxPositionEmbeddings
  onProgress?: (p: { stage: 'perplexity'; done: number; total: number }) => void; // done/total in documents
  signal?: AbortSignal;
  modelName?: string; // named in the error when the perplexity overflows
}

export interface PerplexityResult {
  nll: number; // mean negative log-likelihood per scored token, in nats
  ppl: number; // exp(nll)
  tokens: number; // how many tokens were scored
  docs: number; // how many documents were scored
}

/** Split on the separator, strip each document, drop the empty ones. */
export function splitDocuments(text: string): string[] {
  return text
    .split(DOCUMENT_SEPARATOR)
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
}

/** −log softmax(row)[target], computed in float64.  row: [vocab] */
export function negativeLogLikelihood(row: Float32Array, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return Math.log(sum) + max - row[target]!;
}

/**
 * Logits of T positions take T·vocab floats, so a long sequence over a big vocabulary is
 * fed through the KV cache in chunks of at most this many logits (64 MiB).
 */
export const MAX_LOGITS_PER_PASS = 2 ** 24;

/**
 * Sum of −log p(ids[i] | ids[<i]) for i ≥ 1: each document is one sequence in a fresh
 * KV cache, usually a single batched forward pass (chunked for big vocabularies).
 */
export async function scoreSequence(
  model: CausalLM,
  ids: readonly number[],
  opts: { signal?: AbortSignal; maxLogitsPerPass?: number } = {},
): Promise<{ nll: number; tokens: number }> {
  const { signal, maxLogitsPerPass = MAX_LOGITS_PER_PASS } = opts;
  const vocab = model.config.vocabSize;
  const chunk = Math.max(1, Math.floor(maxLogitsPerPass / vocab)); // positions per forward pass
  const state = model.createState();
  let nll = 0;
  try {
    // The last id is only a target, never an input.
    for (let start = 0; start < ids.length - 1; start += chunk) {
      const end = Math.min(ids.length - 1, start + chunk);
      const logits = await model.forward(state, ids.slice(start, end), signal); // [end-start, vocab]
      for (let i = start; i < end; i++) {
        nll += negativeLogLikelihood(logits.subarray((i - start) * vocab, (i - start + 1) * vocab), ids[i + 1]!);
      }
    }
  } finally {
    state.dispose();
  }
  return { nll, tokens: Math.max(0, ids.length - 1) };
}

/**
 * [BOS] + encode(doc), cut to `n` tokens. A document longer than one piece (document-pieces.ts)
 * is encoded piece by piece until `n` tokens exist: only its head is scored, and one call on a
 * 10 MB word would outlast the tokenizer's budget and be taken for a runaway regular expression.
 */
function encodeHead(tokenizer: ModelTokenizer, doc: string, n: number): number[] {
  if (doc.length <= PIECE_CHARS) return tokenizer.encode(doc, { addBos: true }).slice(0, n);
  const ids: number[] = [];
  for (const p of documentPieces(doc)) {
    for (const id of tokenizer.encode(p.text, { addBos: p.first })) ids.push(id);
    if (ids.length >= n) break;
  }
  return ids.slice(0, n);
}

/**
 * Perplexity with the fixture protocol: for each document, ids = [BOS] + encode(doc)
 * truncated to the context length, and every token after BOS is scored given its prefix.
 * A model without BOS scores every token after the first instead.
 */
export async function evaluatePerplexity(
  model: CausalLM,
  tokenizer: ModelTokenizer,
  text: string,
  opts: PerplexityOptions = {},
): Promise<PerplexityResult> {
  const { maxDocs, onProgress, signal } = opts;
  const contextLength = opts.contextLength ?? model.config.maxPositionEmbeddings;
  if (!Number.isInteger(contextLength) || contextLength < 2 || contextLength > model.config.maxPositionEmbeddings) {
    throw new ShrinkrayError(
      'bad_argument',
      `contextLength must be an integer in [2, ${model.config.maxPositionEmbeddings}], got ${contextLength}`,
    );
  }
  if (maxDocs !== undefined && (!Number.isInteger(maxDocs) || maxDocs < 1)) {
    throw new ShrinkrayError('bad_argument', `maxDocs must be an integer >= 1, got ${maxDocs}`);
  }
  const docs = splitDocuments(text).slice(0, maxDocs);
  if (docs.length === 0) throw new ShrinkrayError('bad_argument', 'the evaluation text holds no non-empty document');

  let nll = 0;
  let tokens = 0;
  onProgress?.({ stage: 'perplexity', done: 0, total: docs.length });
  for (const [i, doc] of docs.entries()) {
    if (signal?.aborted) throw new ShrinkrayError('aborted', 'perplexity evaluation was cancelled');
    const ids = encodeHead(tokenizer, doc, contextLength);
    const scored = await scoreSequence(model, ids, { signal });
    nll += scored.nll;
    tokens += scored.tokens;
    onProgress?.({ stage: 'perplexity', done: i + 1, total: docs.length });
  }
  if (tokens === 0) throw new ShrinkrayError('bad_argument', 'the evaluation text has no token to score');
  const mean = nll / tokens;
  const ppl = Math.exp(mean);
  // Huge but finite logits (a norm weight scaled by 1e15) give a finite NLL whose exp overflows
  // float64; JSON would write it as null, which reads as a result.
  if (!Number.isFinite(ppl)) {
    throw new ShrinkrayError(
      'bad_file',
      `${opts.modelName ?? 'the model'}: the perplexity overflows: the mean negative log-likelihood is ${mean.toPrecision(4)} nats per token ` +
        `(e^${mean.toPrecision(4)} is beyond any float64), so the model's logits are huge: its weights are broken or mis-scaled`,
    );
  }
  return { nll: mean, ppl, tokens, docs: docs.length };
}
