import { describe, expect, it } from 'vitest';
import { parseHfConfig } from '../../src/model/hf-config.ts';
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

  const claims: [SyntheticShape, keyof typeof PUBLISHED][] = [
    ['smollm2-135m', 'smollm2_135m'],
    ['qwen2.5-0.5b', 'qwen25_05b'],
  ];
  it.each(claims)('the synthetic %s shape is %s as published', (shape, key) => {
    const published = parseHfConfig(PUBLISHED[key].json, PUBLISHED[key].repo);
    const synthetic = syntheticConfig(shape);
    const fields = ['hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize'] as const;
    for (const f of [...fields, 'tieWordEmbeddings', 'attentionBias', 'maxPositionEmbeddings'] as const) {
      expect(synthetic[f], `${shape} ${f}`).toEqual(published[f]);
    }
  });
});
