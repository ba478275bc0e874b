import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { createChatClient, createCompressClient, type ChatClient, type CompressClient } from '../../src/worker/client.ts';
import { BUDGET } from '../error-budgets.ts';
import { hubModel } from './hub-model.ts';

/**
 * The chat worker on a page without a real GPU (SwiftShader's adapter is a fallback, so
 * 'auto' resolves to wasm): a stored model runs on the CPU engine (relaxed SIMD, a thread per
 * core on this cross-origin isolated page), gives the fixture's text and onnxruntime-web's
 * perplexity within 0.3%, and a graph the engine does not run falls back to onnxruntime-web
 * with the reason in the load result.
 */
const hubUrl = inject('hubUrl');
const storeName = `engine-worker-${Date.now()}`;

function compressClient(): CompressClient {
  const c = createCompressClient({ storeName });
  onTestFinished(() => c.terminate());
  return c;
}
function chatClient(): ChatClient {
  const c = createChatClient({ storeName });
  onTestFinished(() => c.terminate());
  return c;
}
const fixtureText = async (file: string) => (await fetch(`${hubUrl}/test-org/fixture-text/resolve/main/${file}`)).text();

describe('the chat worker on the CPU engine', () => {
  it('runs the downloaded and the int4-g32 model on the engine; perplexity within 0.3% of onnxruntime-web in the same worker', async () => {
    const compress = compressClient();
    const source = await compress.download({ kind: 'hub', repo: 'test-org/stories260K', hubUrl });
    const int4 = await compress.compress(source.id, 'int4-g32');
    const expected = /Greedy decoding from BOS[\s\S]*?`([^`]+)`/.exec(await fixtureText('README.md'))![1]!;
    const sample = await fixtureText('tinystories_sample.txt');

    const chat = chatClient();
    const original = await chat.load(source.id);
    expect(original).toMatchObject({ engine: 'cpu', device: 'wasm', format: 'safetensors', simd: 'relaxed' });
    expect((await chat.generate({ prompt: { text: '' }, maxNewTokens: 60 })).text.trim().startsWith(expected.slice(0, 120))).toBe(true);

    // Before its first bytes, a load names each step it takes (the page shows them while they last).
    const steps: string[] = [];
    const loaded = await chat.load(int4.id, {
      onProgress: (p) => {
        if (p.stage === 'prepare') steps.push(p.item!);
        else if (p.stage === 'load' && !steps.includes('bytes')) steps.push('bytes');
      },
    });
    expect(steps).toEqual(['choosing the device', 'compiling the CPU engine', "reading the model's configuration and tokenizer", 'bytes']);
    const cores = Math.min(4, navigator.hardwareConcurrency);
    expect(loaded).toMatchObject({
      engine: 'cpu',
      device: 'wasm',
      format: 'onnx',
      simd: 'relaxed',
      threads: crossOriginIsolated ? cores : 1,
    });
    expect(loaded).not.toHaveProperty('fallback');
    const cpu = await chat.evaluate(sample);
    const r = await chat.generate({ prompt: { text: 'Once upon a time' }, maxNewTokens: 30 });
    expect(r.ids).toHaveLength(30);
    expect(r.tokensPerSecond).toBeGreaterThan(0);

    expect(await chat.load(int4.id, { engine: 'onnx', device: 'wasm' })).toMatchObject({ engine: 'onnx', device: 'wasm' });
    const ort = await chat.evaluate(sample);
    expect(cpu.tokens).toBe(1804);
    expect(Math.abs(cpu.ppl / ort.ppl - 1)).toBeLessThan(BUDGET.enginePplVsOnnx);
  });

  it('an exported graph with an op the engine does not run is loaded on onnxruntime-web, and the load result says why', async () => {
    const { ir, files } = await hubModel(hubUrl, 'test-org/stories260K');
    const built = await compressModel(ir, planCompression(parseRecipe('int8'), ir.config), {
      quantizer: await createRtnQuantizer(),
      quantizedMatMul: 'matmulinteger',
    });
    const file = (path: string, bytes: Uint8Array | string) => ({
      path: `matmulinteger/${path}`,
      file: new File([bytes as BlobPart], path.split('/').pop()!),
    });
    const folder = [
      ...['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'].map((f) => file(f, files.get(f)!)),
      file('shrinkray.json', JSON.stringify({ recipe: 'int8 (MatMulInteger)', from: 'stories260K' })),
      file('onnx/model.onnx', built.built.model),
    ];
    const stored = await compressClient().importLocal(folder);
    const chat = chatClient();
    const loaded = await chat.load(stored.id);
    expect(loaded).toMatchObject({ engine: 'onnx', device: 'wasm', format: 'onnx' });
    expect(loaded.fallback).toMatch(/node '.*' is com\.microsoft\.DynamicQuantizeMatMul, an op the CPU engine does not run/);
    expect((await chat.generate({ prompt: { text: 'Once upon a time' }, maxNewTokens: 8 })).ids).toHaveLength(8);
  });
});
