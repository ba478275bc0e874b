import { describe, expect, it } from 'vitest';
import { layerwiseIr } from '../../src/compress/layerwise-ir.ts';
import { kindBits } from '../../src/compress/tensor-outcome.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { PUBLISHED } from '../published-configs.ts';
import { FUSED_TENSORS, LINEAR_KINDS, modelTensors, parseTensorName, renameToLayer } from '../../src/model/tensor-table.ts';
import { compressProgress, pageReport } from '../../src/worker/tensor-places.ts';
import { randomLlamaIR, tinyConfig } from './random-llama.ts';

// The tensor table is the one place a tensor name is taken apart; these pin what it answers.
describe('parseTensorName', () => {
  const config = tinyConfig({ numLayers: 12, qkNorm: true });

  it('gives back the layer, key and projection of every name the table makes', () => {
    const all = modelTensors(config);
    expect(all.length).toBeGreaterThan(12 * 9);
    for (const t of all) expect(parseTensorName(t.name)).toEqual({ layer: t.layer, key: t.key, linear: t.linear });
  });

  it("gives back Gemma's keys with a Gemma config: its post_attention_layernorm norms the attention output", () => {
    const gemma = parseHfConfig(PUBLISHED.gemma3_270m.json, 'config.json');
    const all = modelTensors(gemma);
    expect(all.filter((t) => t.layer === 0 && t.role === 'norm').map((t) => t.name.slice('model.layers.0.'.length))).toEqual([
      'input_layernorm.weight',
      'self_attn.q_norm.weight',
      'self_attn.k_norm.weight',
      'post_attention_layernorm.weight',
      'pre_feedforward_layernorm.weight',
      'post_feedforward_layernorm.weight',
    ]);
    for (const t of all) expect(parseTensorName(t.name, gemma)).toEqual({ layer: t.layer, key: t.key, linear: t.linear });
    expect(parseTensorName('model.layers.0.post_attention_layernorm.weight', gemma).key).toBe('attnPostNorm');
    expect(parseTensorName('model.layers.0.post_attention_layernorm.weight').key).toBe('ffnNorm');
  });

  it('lists the linear kinds in the order the table holds the projections', () => {
    const linears = modelTensors(config).filter((t) => t.layer === 0 && t.role === 'linear');
    expect(linears.map((t) => t.linear)).toEqual(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
    expect([...LINEAR_KINDS]).toEqual(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
  });

  it('places a layer tensor the table has no row for, without a key', () => {
    expect(parseTensorName('model.layers.7.self_attn.rotary_emb.inv_freq')).toEqual({ layer: 7, key: null, linear: null });
    expect(parseTensorName(FUSED_TENSORS[0]!.name.replace('{i}', '2'))).toEqual({ layer: 2, key: null, linear: null });
    expect(parseTensorName('model.layers.123456789.mlp.up_proj.weight')).toEqual({ layer: 123456789, key: 'up', linear: 'up' });
  });

  it("gives a key only to the table's own spelling of the layer", () => {
    expect(parseTensorName('model.layers.03.mlp.up_proj.weight')).toEqual({ layer: 3, key: null, linear: null });
    expect(parseTensorName('model.layers.1234567890.mlp.up_proj.weight')).toEqual({ layer: null, key: null, linear: null });
    expect(parseTensorName('model.layers.x.mlp.up_proj.weight')).toEqual({ layer: null, key: null, linear: null });
    expect(parseTensorName('model.layers.3.mlp.up_proj.weight.extra')).toEqual({ layer: 3, key: null, linear: null });
  });

  it('knows the model-level tensors and nothing else outside the layers', () => {
    expect(parseTensorName('model.embed_tokens.weight')).toEqual({ layer: null, key: 'embedding', linear: null });
    expect(parseTensorName('lm_head.weight')).toEqual({ layer: null, key: 'classifier', linear: null });
    expect(parseTensorName('model.norm.weight')).toEqual({ layer: null, key: 'finalNorm', linear: null });
    expect(parseTensorName('output.weight')).toEqual({ layer: null, key: null, linear: null });
  });

  it('moves a layer tensor to another layer, and leaves model-level names alone', () => {
    expect(renameToLayer('model.layers.11.self_attn.q_proj.weight', 4)).toBe('model.layers.4.self_attn.q_proj.weight');
    expect(renameToLayer('model.layers.3.self_attn.rotary_emb.inv_freq', 0)).toBe('model.layers.0.self_attn.rotary_emb.inv_freq');
    expect(renameToLayer('lm_head.weight', 1)).toBe('lm_head.weight');
  });
});

describe('layerwiseIr', () => {
  it('reads each replaced tensor from its layer, once per layer, and passes the rest through in order', async () => {
    const ir = randomLlamaIR(tinyConfig({ numLayers: 3 }));
    const asked: number[] = [];
    const out = layerwiseIr(
      ir,
      ir.config,
      async (l) => {
        asked.push(l);
        const made = new Map<string, Float32Array>();
        for (const [name, h] of ir.tensors)
          if (parseTensorName(name).layer === l) made.set(name, new Float32Array(h.byteLength / 4).fill(l + 1));
        return made;
      },
      (t) => t.role === 'linear',
    );
    expect([...out.tensors.keys()]).toEqual([...ir.tensors.keys()]);
    const q1 = out.tensors.get('model.layers.1.self_attn.q_proj.weight')!;
    expect(Array.from(await q1.read()).every((x) => x === 2)).toBe(true);
    expect(asked).toEqual([1]);
    const norm = 'model.layers.1.input_layernorm.weight';
    expect(out.tensors.get(norm)).toBe(ir.tensors.get(norm)); // not replaced: the source's own handle
    expect(out.tensors.get('model.embed_tokens.weight')).toBe(ir.tensors.get('model.embed_tokens.weight'));
  });
});

describe('what the page gets', () => {
  it('places report tensors and their code bits, leaving the stored entries as they were', () => {
    const entries = [
      { name: 'model.layers.2.mlp.down_proj.weight', shape: [4, 8], kind: 'int3-g32-asym', bytes: 20, sparsity: 0, relError: 0.1 },
      { name: 'model.embed_tokens.weight', shape: [8, 4], kind: 'nbits8', bytes: 40, sparsity: 0, relError: null },
      { name: 'model.layers.0.input_layernorm.weight', shape: [4], kind: 'fp16', bytes: 8, sparsity: 0, relError: null },
    ];
    const stored = { recipe: 'bits3.5', tensors: entries };
    const copy = structuredClone(stored);
    const page = pageReport(stored);
    expect(stored).toEqual(copy);
    expect(page.recipe).toBe('bits3.5');
    expect(page.tensors.map(({ layer, key, linear, bits }) => ({ layer, key, linear, bits }))).toEqual([
      { layer: 2, key: 'down', linear: 'down', bits: 3 },
      { layer: null, key: 'embedding', linear: null, bits: 8 },
      { layer: 0, key: 'attnNorm', linear: null, bits: 16 },
    ]);
    expect(pageReport({ recipe: 'int4' }).tensors).toEqual([]);
  });

  it('reads the code bits of every kind the pipeline and the builder write', () => {
    expect(
      ['int4-g32', 'int8-g128-asym', 'int2-g64', 'nbits4', 'lowrank-r16+int8-g32', 'lowrank-r16+fp16', 'fp16', 'fp32'].map(kindBits),
    ).toEqual([4, 8, 2, 4, 8, 16, 16, 32]);
  });

  it('sends the tensor being compressed placed, and block progress as it was', () => {
    expect(compressProgress({ stage: 'compress', done: 3, total: 9, tensor: 'model.layers.1.self_attn.k_proj.weight' })).toEqual({
      stage: 'compress',
      done: 3,
      total: 9,
      item: 'model.layers.1.self_attn.k_proj.weight',
      tensor: { name: 'model.layers.1.self_attn.k_proj.weight', layer: 1, key: 'k', linear: 'k' },
    });
    expect(compressProgress({ stage: 'compress', done: 9, total: 9, tensor: '' })).toEqual({
      stage: 'compress',
      done: 9,
      total: 9,
      item: '',
    });
    expect(compressProgress({ stage: 'calibrate', done: 1, total: 2, tensor: 'layer 1' })).toEqual({
      stage: 'calibrate',
      done: 1,
      total: 2,
      item: 'layer 1',
    });
  });
});
