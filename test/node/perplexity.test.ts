import { beforeAll, describe, expect, it } from 'vitest';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { evaluatePerplexity, negativeLogLikelihood, scoreSequence, splitDocuments } from '../../src/runtime/perplexity.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { STORIES_DIR } from './fixture-paths.ts';
import { randomLlamaIR, tinyConfig, tokenSequence } from './random-llama.ts';
import { BUDGET } from '../error-budgets.ts';

describe('documents', () => {
  it('are split on <|endoftext|>, stripped, and empty ones dropped', () => {
    expect(splitDocuments('  One.\n<|endoftext|>\n \n<|endoftext|>Two  two.\n\n<|endoftext|>')).toEqual(['One.', 'Two  two.']);
    expect(splitDocuments('no separator at all ')).toEqual(['no separator at all']);
  });
});

describe('negativeLogLikelihood', () => {
  it('is −log softmax, stable for large logits', () => {
    const row = Float32Array.from([1, 2, 3, 0.5]);
    const z = [1, 2, 3, 0.5].reduce((a, b) => a + Math.exp(b), 0);
    expect(negativeLogLikelihood(row, 1)).toBeCloseTo(-Math.log(Math.exp(2) / z), 12);
    expect(negativeLogLikelihood(Float32Array.from([1000, 0]), 1)).toBeCloseTo(1000, 9);
    expect(negativeLogLikelihood(Float32Array.from([1000, 0]), 0)).toBeCloseTo(0, 12);
  });
});

/** The protocol computed by hand: one full forward pass per document, log-softmax per row. */
async function handComputed(model: ReferenceModel, docsIds: number[][]): Promise<{ nll: number; tokens: number }> {
  let nll = 0;
  let tokens = 0;
  const vocab = model.config.vocabSize;
  for (const ids of docsIds) {
    const logits = await model.forward(model.createState(), ids);
    for (let i = 0; i + 1 < ids.length; i++) {
      const row = Array.from(logits.subarray(i * vocab, (i + 1) * vocab));
      const logZ = Math.log(row.reduce((a, b) => a + Math.exp(b), 0));
      nll += logZ - row[ids[i + 1]!]!;
      tokens++;
    }
  }
  return { nll: nll / tokens, tokens };
}

describe('perplexity protocol', () => {
  let tokenizer: TextTokenizer;
  let model: ReferenceModel; // random weights, stories260K's vocabulary and tokenizer
  beforeAll(async () => {
    const folder = await loadModelFolder(STORIES_DIR);
    tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, folder.ir.config);
    const config = tinyConfig({ vocabSize: 512, maxPositionEmbeddings: 32, architecture: 'LlamaForCausalLM', family: 'llama' });
    model = await ReferenceModel.load(randomLlamaIR(config, 4));
  });
  const text =
    'Lily saw a cat.<|endoftext|>  <|endoftext|>\nThe sun was warm and the birds sang a long song in the tall green tree by the house.\n<|endoftext|>Tom ran.';

  it('scores [BOS] + encode(doc), truncated to the context length, every token after BOS', async () => {
    const docs = splitDocuments(text);
    const ids = docs.map((d) => [1, ...tokenizer.encode(d)].slice(0, 32));
    expect(ids[1]!.length).toBe(32); // the long document is truncated
    const expected = await handComputed(model, ids);
    const result = await evaluatePerplexity(model, tokenizer, text);
    expect(result.docs).toBe(3);
    expect(result.tokens).toBe(expected.tokens);
    expect(result.nll).toBeCloseTo(expected.nll, 9);
    expect(result.ppl).toBeCloseTo(Math.exp(expected.nll), 7);
  });

  it('honours maxDocs and contextLength, reports progress', async () => {
    const progress: number[] = [];
    const result = await evaluatePerplexity(model, tokenizer, text, {
      maxDocs: 2,
      contextLength: 10,
      onProgress: (p) => progress.push(p.done),
    });
    expect(result.docs).toBe(2);
    const lengths = splitDocuments(text)
      .slice(0, 2)
      .map((d) => Math.min(10, tokenizer.encode(d).length + 1) - 1);
    expect(result.tokens).toBe(lengths[0]! + lengths[1]!);
    expect(progress).toEqual([0, 1, 2]);
  });

  it('a cancelled evaluation throws aborted; bad input is refused', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(evaluatePerplexity(model, tokenizer, text, { signal: controller.signal })).rejects.toThrow(
      expect.objectContaining({ code: 'aborted' }),
    );
    await expect(evaluatePerplexity(model, tokenizer, ' <|endoftext|> ')).rejects.toThrow(/no non-empty document/);
    await expect(evaluatePerplexity(model, tokenizer, text, { maxDocs: 0 })).rejects.toThrow(/maxDocs/);
    await expect(evaluatePerplexity(model, tokenizer, text, { contextLength: 33 })).rejects.toThrow(/contextLength/);
  });
});

describe('scoreSequence', () => {
  it('gives the same sum when a big vocabulary forces chunks through the KV cache', async () => {
    const model = await ReferenceModel.load(randomLlamaIR(tinyConfig(), 8));
    const ids = tokenSequence(50, 37);
    const whole = await scoreSequence(model, ids);
    const chunked = await scoreSequence(model, ids, { maxLogitsPerPass: 37 * 6 }); // 6 positions per pass
    expect(whole.tokens).toBe(49);
    expect(chunked.tokens).toBe(49);
    expect(Math.abs(chunked.nll - whole.nll)).toBeLessThan(BUDGET.chunkedNll);
  });
});
