import { describe, expect, it } from 'vitest';
import { parseHfConfig, toHfConfig } from '../../src/model/hf-config.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { PUBLISHED } from '../published-configs.ts';

// Field values as published in the models' own config.json files (test/fixtures/configs/).
const smollm2 = PUBLISHED.smollm2_135m.json;
const qwen = PUBLISHED.qwen25_05b.json;

describe('parseHfConfig', () => {
  it('reads a Llama config (SmolLM2-135M)', () => {
    expect(parseHfConfig(smollm2, 'config.json')).toEqual<ModelConfig>({
      architecture: 'LlamaForCausalLM',
      family: 'llama',
      hiddenSize: 576,
      intermediateSize: 1536,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      vocabSize: 49152,
      maxPositionEmbeddings: 8192,
      rmsNormEps: 1e-5,
      ropeTheta: 100000,
      tieWordEmbeddings: true,
      attentionBias: false,
      bosTokenId: 1,
      eosTokenId: [2],
    });
  });

  it('reads a Qwen2 config with q/k/v bias, and lists of eos ids', () => {
    const c = parseHfConfig({ ...qwen, eos_token_id: [151645, 151643] }, 'qwen/config.json');
    expect(c).toMatchObject({ family: 'qwen2', headDim: 64, attentionBias: true, eosTokenId: [151645, 151643], ropeTheta: 1e6 });
  });

  it('fills defaults the way transformers does', () => {
    const {
      num_key_value_heads: _kv,
      rms_norm_eps: _e,
      rope_theta: _t,
      tie_word_embeddings: _tie,
      max_position_embeddings: _m,
      bos_token_id: _b,
      eos_token_id: _eos,
      ...bare
    } = smollm2;
    const c = parseHfConfig(bare, 'config.json');
    expect(c).toMatchObject({
      numKvHeads: 9,
      rmsNormEps: 1e-6,
      ropeTheta: 10000,
      tieWordEmbeddings: false,
      maxPositionEmbeddings: 2048,
      bosTokenId: 1,
      eosTokenId: [2],
    });
    expect(parseHfConfig({ ...smollm2, head_dim: 32 }, 'c.json').headDim).toBe(32);
    expect(
      parseHfConfig({ ...smollm2, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } }, 'c.json').ropeTheta,
    ).toBe(5e5);
  });

  it('reads Llama 3.2-1B: rope_scaling llama3, and writes it back', () => {
    const llama32 = PUBLISHED.llama32_1b.json;
    const c = parseHfConfig(llama32, 'config.json');
    expect(c.ropeScaling).toEqual({
      ropeType: 'llama3',
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
    expect(toHfConfig(c).rope_scaling).toEqual(llama32.rope_scaling);
    expect(parseHfConfig(toHfConfig(c), 'config.json')).toEqual(c);
    // transformers 5 nests the same fields in rope_parameters.
    const { rope_scaling: scaling, rope_theta: theta, ...v5 } = llama32;
    expect(parseHfConfig({ ...v5, rope_parameters: { ...scaling, rope_theta: theta } }, 'config.json')).toEqual(c);
    expect(parseHfConfig(smollm2, 'config.json').ropeScaling).toBeUndefined();
  });

  it('names an unsupported architecture and lists the supported ones', () => {
    expectShrinkrayError(
      () => parseHfConfig({ ...smollm2, architectures: ['GPT2LMHeadModel'] }, 'models/gpt2/config.json'),
      'unsupported_architecture',
      /models\/gpt2\/config\.json: architecture 'GPT2LMHeadModel' is not supported; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM/,
    );
  });

  it('names missing or invalid fields', () => {
    const { hidden_size: _h, ...noHidden } = smollm2;
    const cases: [unknown, RegExp][] = [
      [noHidden, /config\.json: field 'hidden_size' is missing/],
      [{ ...smollm2, vocab_size: -3 }, /field 'vocab_size' must be a positive integer, got -3/],
      [{ ...smollm2, num_key_value_heads: 4 }, /field 'num_key_value_heads' \(4\) must divide num_attention_heads \(9\)/],
      [{ ...smollm2, architectures: 'LlamaForCausalLM' }, /field 'architectures' must be a list/],
      [{ ...smollm2, hidden_act: 'gelu' }, /field 'hidden_act' must be 'silu'/],
      [{ ...smollm2, rope_scaling: { rope_type: 'dynamic', factor: 8 } }, /field 'rope_scaling' type "dynamic" is not supported/],
      [{ ...smollm2, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /field 'rope_scaling\.low_freq_factor' must be a number/],
      [{ ...smollm2, rope_parameters: { rope_type: 'yarn', rope_theta: 1e4 } }, /field 'rope_parameters' type "yarn" is not supported/],
      [{ ...smollm2, tie_word_embeddings: 'yes' }, /field 'tie_word_embeddings' must be true or false/],
      [{ ...smollm2, eos_token_id: [2, 'x'] }, /field 'eos_token_id' must be a token id/],
      [[1, 2], /config\.json: expected a JSON object/],
    ];
    for (const [json, pattern] of cases) {
      expectShrinkrayError(() => parseHfConfig(json, 'config.json'), 'bad_config', pattern);
    }
  });
});

describe('toHfConfig', () => {
  it('writes the fields transformers needs, and parses back to the same config', () => {
    const c = parseHfConfig(smollm2, 'config.json');
    const json = toHfConfig(c);
    expect(json).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      head_dim: 64,
      vocab_size: 49152,
      max_position_embeddings: 8192,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      torch_dtype: 'float32',
    });
    expect(parseHfConfig(json, 'out/config.json')).toEqual(c);
    const q = parseHfConfig(qwen, 'config.json');
    expect(parseHfConfig(toHfConfig(q), 'out/config.json')).toEqual(q);
  });
});
