import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { matMulNBitsBytes, planCompression } from '../../src/compress/plan.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { STORIES_CONFIG } from '../stories-config.ts';

/** stories260K's shape (fixtures README): 260,032 fp32 parameters, 1,040,128 bytes. */
const stories = STORIES_CONFIG;

describe('matMulNBitsBytes', () => {
  it('counts the MatMulNBits layout: padded blocks, scales, packed zero points', () => {
    // [172, 64] int4 block 32: 2 blocks per row of 16 bytes, 2 fp32 scales.
    expect(matMulNBitsBytes(172, 64, { bits: 4, blockSize: 32, symmetric: true }, 4)).toEqual({
      data: 5504,
      scales: 1376,
      zeroPoints: 0,
      total: 6880,
    });
    // [64, 172] int4 block 32: K padded to 6 blocks; asym: ceil(6*4/8) = 3 zero-point bytes per row.
    expect(matMulNBitsBytes(64, 172, { bits: 4, blockSize: 32, symmetric: false }, 2)).toEqual({
      data: 6144,
      scales: 768,
      zeroPoints: 192,
      total: 7104,
    });
    // int3 codes sit in the 4-bit container: 8 bytes per block of 16, and zero points even when
    // symmetric (the container's default zero 8 is not 3-bit's 4): ceil(4 blocks * 4 / 8) = 2 per row.
    expect(matMulNBitsBytes(10, 64, { bits: 3, blockSize: 16, symmetric: false }, 4)).toEqual({
      data: 320,
      scales: 160,
      zeroPoints: 20,
      total: 500,
    });
    expect(matMulNBitsBytes(10, 64, { bits: 3, blockSize: 16, symmetric: true }, 4)).toEqual({
      data: 320,
      scales: 160,
      zeroPoints: 20,
      total: 500,
    });
  });
});

describe('planCompression', () => {
  it('sends calibrated methods through the calibrated pass, and the structured steps only with calibration text', () => {
    expect(planCompression(parseRecipe('int4-g32'), stories).calibrate).toBe(false);
    for (const r of ['gptq-int4-g32', 'awq-int4-g32', 'wanda50', 'sparsegpt-2:4+int8'])
      expect(planCompression(parseRecipe(r), stories).calibrate).toBe(true);
    expect(planCompression(parseRecipe('ffn25+int8'), stories).calibrate).toBe(false);
    expect(planCompression(parseRecipe('ffn25+int8'), stories, { calibrationText: true }).calibrate).toBe(true);
    expect(planCompression(parseRecipe('int8'), stories, { calibrationText: true }).calibrate).toBe(false); // RTN learns nothing from text
    // 3 bits: stored (and counted) as the 4-bit container with zero points.
    expect(planCompression(parseRecipe('gptq-int3-g32'), stories).bytesOut).toBe(
      planCompression(parseRecipe('int4-g32-asym'), stories).bytesOut,
    );
  });

  it('int4-g32 on stories260K: the 35 linears quantized, embedding and norms fp32', () => {
    const plan = planCompression(parseRecipe('int4-g32'), stories);
    expect(plan.tensors.length).toBe(1 + 5 * 9 + 1); // tied: no lm_head row
    expect(plan.bytesIn).toBe(1_040_128);
    // Per layer, 20 bytes per (row, block): q 2560 + k 1280 + v 1280 + o 2560 + gate 6880 + up 6880 + down 7680.
    expect(plan.bytesOut).toBe(5 * 29_120 + 512 * 64 * 4 + (5 * 2 + 1) * 64 * 4);
    const byRole = (role: string) => plan.tensors.filter((t) => t.role === role);
    expect(byRole('linear').length).toBe(35);
    expect(byRole('linear').every((t) => t.quant?.bits === 4 && t.quant.blockSize === 32 && t.mask === null && !t.structured)).toBe(true);
    expect(byRole('norm').every((t) => t.quant === null && t.dtype === 'fp32')).toBe(true);
    expect(byRole('embedding')[0]).toMatchObject({ name: 'model.embed_tokens.weight', quant: null, dtype: 'fp32', bytesOut: 131_072 });
    expect(plan.structured).toBeNull();
    expect(plan.configOut).toBe(stories);
  });

  it('fp16 halves every tensor but the norms', () => {
    const plan = planCompression(parseRecipe('fp16'), stories);
    expect(plan.bytesOut).toBe((260_032 - 11 * 64) * 2 + 11 * 64 * 4);
    expect(plan.tensors.find((t) => t.role === 'norm')!.dtype).toBe('fp32');
  });

  it('emb8 quantizes the embedding, and an untied classifier, with the int block size', () => {
    const untied = { ...stories, tieWordEmbeddings: false };
    const plan = planCompression(parseRecipe('int4-g64+emb8'), untied);
    const emb = plan.tensors.find((t) => t.role === 'embedding')!;
    const cls = plan.tensors.find((t) => t.role === 'classifier')!;
    for (const t of [emb, cls]) {
      expect(t.quant).toEqual({ bits: 8, blockSize: 64, symmetric: true });
      expect(t.bytesOut).toBe(512 * (64 + 4)); // one block of 64 bytes plus a scale per row
    }
    expect(cls.name).toBe('lm_head.weight');
  });

  it('structured + mask + asym quantization: shapes, flags and sizes follow the pruned config', () => {
    const plan = planCompression(parseRecipe('int4-g32-asym+heads25+ffn25+mag50'), stories);
    expect(plan.configOut).toMatchObject({ intermediateSize: 129, numHeads: 6, numKvHeads: 3 });
    expect(plan.structured).toEqual({ ffnFraction: 0.25, headsFraction: 0.25 });
    const t = (name: string) => plan.tensors.find((x) => x.name === name)!;
    expect(t('model.layers.2.mlp.gate_proj.weight')).toMatchObject({ shapeIn: [172, 64], shape: [129, 64], structured: true });
    expect(t('model.layers.2.mlp.down_proj.weight')).toMatchObject({ shapeIn: [64, 172], shape: [64, 129], structured: true });
    expect(t('model.layers.2.self_attn.q_proj.weight')).toMatchObject({ shape: [48, 64], structured: true });
    expect(t('model.layers.2.self_attn.k_proj.weight')).toMatchObject({ shape: [24, 64], structured: true });
    expect(t('model.layers.2.self_attn.o_proj.weight')).toMatchObject({ shape: [64, 48], structured: true });
    expect(t('model.layers.2.input_layernorm.weight')).toMatchObject({ structured: false, mask: null, quant: null });
    const linears = plan.tensors.filter((x) => x.role === 'linear');
    expect(linears.every((x) => x.mask?.kind === 'magnitude' && x.mask.sparsity === 0.5)).toBe(true);
    // down_proj [64, 129] int4 asym block 32: 5 blocks; 5*16 data + 5*4 scales + ceil(5*4/8) = 3 zero points, per row.
    expect(t('model.layers.2.mlp.down_proj.weight').bytesOut).toBe(64 * (80 + 20 + 3));
  });

  it('qwen2-style bias tensors are planned, kept fp32, and shrink with head pruning', () => {
    const qwen: ModelConfig = {
      ...stories,
      hiddenSize: 896,
      intermediateSize: 4864,
      numLayers: 1,
      numHeads: 14,
      numKvHeads: 2,
      headDim: 64,
      vocabSize: 1000,
      attentionBias: true,
    };
    const plan = planCompression(parseRecipe('heads50+int8'), qwen);
    const bias = plan.tensors.filter((t) => t.role === 'bias');
    expect(bias.map((t) => [t.name, t.shape[0], t.dtype])).toEqual([
      ['model.layers.0.self_attn.q_proj.bias', 448, 'fp32'],
      ['model.layers.0.self_attn.k_proj.bias', 64, 'fp32'],
      ['model.layers.0.self_attn.v_proj.bias', 64, 'fp32'],
    ]);
  });

  it('refuses a recipe that does not fit before planning anything', () => {
    expectShrinkrayError(
      () => planCompression(parseRecipe('4:8+int8'), stories),
      'bad_recipe',
      /model\.layers\.0\.mlp\.down_proj\.weight has 172/,
    );
  });
});
