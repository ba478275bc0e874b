import { env, pipeline } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { transformersJsFolder } from '../../src/formats/transformers-js-folder.ts';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';

/**
 * The browser export: the folder we assemble in the page (as the app's zip export does)
 * loads in transformers.js' text-generation pipeline on its wasm device, with no network:
 * files come from an in-memory cache (transformers.js' customCache hook), its
 * onnxruntime-web wasm files from the local server.
 */
const base = '/models/stories260K/';
const EXPECTED_START =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';

async function fetchBytes(file: string): Promise<Uint8Array> {
  const res = await fetch(base + file);
  expect(res.ok, `${base + file}: HTTP ${res.status}`).toBe(true);
  return new Uint8Array(await res.arrayBuffer());
}

describe('transformers.js in Chromium loads the folder built in the page', () => {
  it('generates the reference story greedily', async () => {
    const configJson = JSON.parse(new TextDecoder().decode(await fetchBytes('config.json'))) as Record<string, unknown>;
    const config = parseHfConfig(configJson, 'config.json');
    const st = await readSafetensors(bytesSource(await fetchBytes('model.safetensors'), 'model.safetensors'));
    const built = await buildOnnxDecoder({ config, tensors: new Map(st.tensors) });
    const carried = new Map<string, Uint8Array>();
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) carried.set(f, await fetchBytes(f));
    const files = transformersJsFolder({
      configJson,
      generationConfig: { bos_token_id: 1, eos_token_id: 2 },
      carried,
      model: built,
      report: {},
    });

    const name = 'shrinkray/stories260K-fp32';
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = '/in-memory/';
    env.useBrowserCache = false;
    env.useCustomCache = true;
    env.customCache = {
      match: async (key: string | Request) => {
        const url = typeof key === 'string' ? key : key.url;
        const prefix = `/in-memory/${name}/`;
        const path = url.includes(prefix) ? url.slice(url.indexOf(prefix) + prefix.length) : '';
        const content = files.get(path);
        if (!content) return undefined;
        return new Response(Array.isArray(content) ? new Blob(content as BlobPart[]) : (content as BlobPart));
      },
      put: async () => {},
    };
    // transformers.js pins its own onnxruntime-web; serve its wasm files locally, never from a CDN.
    const ortWasm = (env.backends.onnx as { wasm?: { wasmPaths?: unknown; numThreads?: number } }).wasm!;
    ortWasm.wasmPaths = '/node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/';

    const generator = await pipeline('text-generation', name, { device: 'wasm' });
    const [result] = (await generator('', { max_new_tokens: 48, do_sample: false })) as { generated_text: string }[];
    expect(result!.generated_text).toContain(EXPECTED_START);
    await generator.dispose();
  });
});
