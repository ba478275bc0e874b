import { beforeAll, describe, expect, it } from 'vitest';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { generate } from '../../src/runtime/generate.ts';
import { argmax } from '../../src/runtime/sampler.ts';
import { TextStreamDecoder } from '../../src/runtime/text-stream-decoder.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { expectedGreedyText, STORIES_DIR } from './fixture-paths.ts';
import { randomLlamaIR, tinyConfig } from './random-llama.ts';

describe('generation on the real stories260K model', () => {
  let model: ReferenceModel;
  let tokenizer: TextTokenizer;
  beforeAll(async () => {
    const folder = await loadModelFolder(STORIES_DIR);
    model = await ReferenceModel.load(folder.ir);
    tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig, folder.ir.config);
  });

  it('greedy decoding from BOS reproduces the reference text exactly', async () => {
    const expected = expectedGreedyText();
    expect(expected).toMatch(/^Once upon a time, there was a little girl named Lily\./);
    const streamed: number[] = [];
    const result = await generate(model, [tokenizer.bosTokenId!], {
      maxNewTokens: 80,
      temperature: 0,
      stopTokenIds: tokenizer.eosTokenIds,
      onToken: (id) => streamed.push(id),
    });
    expect(result.stoppedBy).toBe('length');
    expect(result.ids).toHaveLength(80);
    expect(streamed).toEqual(result.ids);
    expect(result.decodeSteps).toBe(79);
    const text = tokenizer.decode(result.ids);
    expect(text.startsWith(expected)).toBe(true);
  });

  it('streamed text deltas add up to the decoded text', async () => {
    const prompt = tokenizer.encode('Tom had a red kite', { addBos: true });
    const stream = new TextStreamDecoder(tokenizer, prompt);
    let text = '';
    const result = await generate(model, prompt, { maxNewTokens: 40, onToken: (id) => (text += stream.push(id)) });
    text += stream.flush();
    const full = tokenizer.decode([...prompt, ...result.ids]);
    expect(full).toBe(`Tom had a red kite${text}`);
    expect(text).toMatch(/ \w+ \w+ \w+/); // word-boundary spaces survive token-by-token decoding
  });

  it('stops at a stop token without emitting it', async () => {
    const free = await generate(model, [1], { maxNewTokens: 30 });
    const period = tokenizer.encode('.')[tokenizer.encode('.').length - 1]!;
    const firstPeriod = free.ids.indexOf(period);
    expect(firstPeriod).toBeGreaterThan(0);
    const stopped = await generate(model, [1], { maxNewTokens: 30, stopTokenIds: [period] });
    expect(stopped.stoppedBy).toBe('eos');
    expect(stopped.ids).toEqual(free.ids.slice(0, firstPeriod));
  });

  it('sampling with a seed is reproducible', async () => {
    const opts = { maxNewTokens: 30, temperature: 0.9, topK: 40, topP: 0.95, seed: 1234 };
    const a = await generate(model, [1], opts);
    const b = await generate(model, [1], opts);
    const c = await generate(model, [1], { ...opts, seed: 4321 });
    expect(a.ids).toEqual(b.ids);
    expect(a.ids).not.toEqual(c.ids);
  });

  it('an abort between steps returns the tokens so far', async () => {
    const controller = new AbortController();
    let count = 0;
    const result = await generate(model, [1], {
      maxNewTokens: 50,
      signal: controller.signal,
      onToken: () => {
        if (++count === 5) controller.abort();
      },
    });
    expect(result.stoppedBy).toBe('abort');
    expect(result.ids).toHaveLength(5);
  });
});

describe('generation through the KV cache matches recomputing from scratch', () => {
  it('greedy ids equal the argmax of a full forward pass at every step', async () => {
    const model = await ReferenceModel.load(randomLlamaIR(tinyConfig(), 11));
    const prompt = [1, 5, 9];
    const { ids } = await generate(model, prompt, { maxNewTokens: 20 });
    const sequence = [...prompt];
    for (let step = 0; step < 20; step++) {
      const logits = await model.forward(model.createState(), sequence);
      sequence.push(argmax(logits.subarray((sequence.length - 1) * 37)));
    }
    expect(ids).toEqual(sequence.slice(prompt.length));
  });

  it('ends with length at the context limit, and checks its arguments', async () => {
    const model = await ReferenceModel.load(randomLlamaIR(tinyConfig({ maxPositionEmbeddings: 16 }), 2));
    const result = await generate(model, [1, 2, 3], { maxNewTokens: 100 });
    expect(result.stoppedBy).toBe('length');
    expect(result.ids).toHaveLength(13);
    await expect(generate(model, [], { maxNewTokens: 5 })).rejects.toThrow(/at least one prompt token/);
    await expect(generate(model, [1], { maxNewTokens: -1 })).rejects.toThrow(/maxNewTokens/);
    expect((await generate(model, [1], { maxNewTokens: 0 })).ids).toEqual([]);
  });
});
