import { describe, expect, it } from 'vitest';
import { parseHfConfig, toHfConfig } from '../../src/model/hf-config.ts';
import { syntheticConfig, type SyntheticShape } from '../../src/model/synthetic-ir.ts';
import { PUBLISHED } from '../published-configs.ts';

// The published configs (test/fixtures/configs/) are the one place a model's fields are written;
// the synthetic models of the speed and memory figures claim those models' shapes.
describe('published configs', () => {
  it.each(Object.values(PUBLISHED))('$repo: config.json parses', ({ repo, json }) => {
    const c = parseHfConfig(json, `${repo}/config.json`);
    expect(c.hiddenSize).toBe(json.hidden_size);
    expect(c.numLayers).toBe(json.num_hidden_layers);
    expect(c.vocabSize).toBe(json.vocab_size);
  });

  it('SmolLM3-3B, Phi-3.5-mini and Phi-4-mini: their RoPE as published, and the config.json we write reads back the same', () => {
    const smol = parseHfConfig(PUBLISHED.smollm3_3b.json, 'config.json');
    expect([smol.nopeLayers, smol.ropeTheta, smol.tieWordEmbeddings, smol.headDim]).toEqual([
      [3, 7, 11, 15, 19, 23, 27, 31, 35],
      5e6,
      true,
      128,
    ]);
    const phi35 = parseHfConfig(PUBLISHED.phi35Mini.json, 'config.json');
    // sqrt(1 + ln(131072 / 4096) / ln(4096)): transformers' LongRoPE attention factor.
    expect(phi35.ropeScaling).toMatchObject({ ropeType: 'longrope', originalMaxPositionEmbeddings: 4096 });
    expect(phi35.ropeScaling?.ropeType === 'longrope' && phi35.ropeScaling.attentionFactor).toBeCloseTo(
      Math.sqrt(1 + Math.log(32) / Math.log(4096)),
      12,
    );
    expect([phi35.headDim, phi35.rotaryDim, phi35.slidingWindow]).toEqual([96, undefined, undefined]);
    const phi4 = parseHfConfig(PUBLISHED.phi4Mini.json, 'config.json');
    expect([phi4.headDim, phi4.rotaryDim, phi4.tieWordEmbeddings, phi4.numKvHeads, phi4.eosTokenId]).toEqual([128, 96, true, 8, [200020]]);
    for (const c of [smol, phi35, phi4]) expect(parseHfConfig(toHfConfig(c), 'written/config.json')).toEqual(c);
  });

  const claims: [SyntheticShape, keyof typeof PUBLISHED][] = [
    ['smollm2-135m', 'smollm2_135m'],
    ['qwen2.5-0.5b', 'qwen25_05b'],
    ['gemma3-270m', 'gemma3_270m'],
  ];
  it.each(claims)('the synthetic %s shape is %s as published', (shape, key) => {
    const published = parseHfConfig(PUBLISHED[key].json, PUBLISHED[key].repo);
    const synthetic = syntheticConfig(shape);
    // Gemma 3: the whole config, its sliding layers, RoPE bases and scales included.
    if (published.family === 'gemma3_text') expect(synthetic).toEqual(published);
    const fields = ['hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize'] as const;
    for (const f of [...fields, 'tieWordEmbeddings', 'attentionBias', 'maxPositionEmbeddings'] as const) {
      expect(synthetic[f], `${shape} ${f}`).toEqual(published[f]);
    }
  });
});
