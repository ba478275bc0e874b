// A model folder fetched from the loopback hub into the page, as bytes and as a ModelIR, for
// browser tests that build graphs in the page (test/browser/engine-*.test.ts).
import { bytesSource } from '../../src/formats/byte-source.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { openHfModel } from '../../src/model/hf-model.ts';

export const HF_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

export async function hubModel(hubUrl: string, repo: string): Promise<{ ir: ModelIR; files: Map<string, Uint8Array> }> {
  const files = new Map<string, Uint8Array>();
  for (const f of HF_FILES) {
    const res = await fetch(`${hubUrl}/${repo}/resolve/main/${f}`);
    if (!res.ok) throw new Error(`${repo}/${f}: HTTP ${res.status} from the hub`);
    files.set(f, new Uint8Array(await res.arrayBuffer()));
  }
  const { ir } = await openHfModel(async (path) => {
    const bytes = files.get(path);
    return bytes && bytesSource(bytes, path);
  });
  return { ir, files };
}
