// GGUF files for the import tests, written at test time by independent Python writers into a
// temp folder (never committed: the stories260K ones are converted from the fixtures):
// - the wllama anchor's make_models.py (shared/anchors/wllama: F32/F16/Q8_0/Q4_0, llama.cpp's
//   reference rounding), run from a copy since the anchor folder is read-only;
// - test/gguf/kquant_gguf.py, this project's numpy writer for the K-quants (Debian has no gguf-py).
// - test/gguf/hf_to_gguf.py, a Hugging Face folder as llama.cpp's converter writes it (llama, qwen2, qwen3).
import { execFile } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pythonWithNumpy } from '../python-numpy.ts';

const run = promisify(execFile);
export const FIXTURES = process.env.SHRINKRAY_FIXTURES ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures');
export const ANCHOR_DIR = resolve(FIXTURES, '..', 'anchors', 'wllama');
const HERE = import.meta.dirname;

async function python(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(await pythonWithNumpy(), args, { env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  return stdout;
}

/** Writes OUT/stories260K-<TYPE>.gguf for each type with the anchor's make_models.py; returns the anchor copy's folder. */
export async function writeAnchorStories(out: string, types: string[]): Promise<string> {
  const anchor = join(out, 'anchor');
  await mkdir(anchor, { recursive: true });
  for (const f of ['gguf_writer.py', 'make_models.py']) await copyFile(join(ANCHOR_DIR, f), join(anchor, f));
  await python([join(anchor, 'make_models.py'), '--out', out, '--models', 'stories260K', '--types', types.join(','), '--force'], {
    WLLAMA_FIXTURES: join(FIXTURES, 'stories260K'),
  });
  return anchor;
}

/** The anchor reader's dequantized values of every tensor of `gguf`, as OUT/<name>.f32 files. */
export async function dumpWithAnchorReader(anchor: string, gguf: string, out: string): Promise<void> {
  await python([join(HERE, 'dump_gguf.py'), anchor, gguf, out]);
}

/** Writes OUT/kquant.gguf and its reference values OUT/ref/<name>.f32 (test/gguf/kquant_gguf.py). */
export async function writeKquantModel(out: string): Promise<string> {
  await python([join(HERE, 'kquant_gguf.py'), out]);
  return join(out, 'kquant.gguf');
}

/** Writes a tiny llama GGUF whose 'gpt2' vocabulary is a published tokenizer's (test/gguf/bpe_gguf.py); returns its path. */
export async function writeBpeModel(out: string, tokenizerDir: string, args: string[]): Promise<string> {
  await python([join(HERE, 'bpe_gguf.py'), tokenizerDir, out, ...args]);
  return out;
}

/**
 * Writes OUT.gguf from the Hugging Face folder `hfDir` as llama.cpp's converter would (test/gguf/hf_to_gguf.py),
 * with each tensor's decoded values in REF/<Hugging Face name>.f32 when `ref` is given; returns the path.
 */
export async function writeHfAsGguf(hfDir: string, out: string, type: 'F32' | 'F16' | 'BF16' | 'Q8_0', ref?: string): Promise<string> {
  await python([join(HERE, 'hf_to_gguf.py'), hfDir, out, '--type', type, ...(ref ? ['--ref', ref] : [])]);
  return out;
}

/** The rope_freqs.weight values test/gguf/hf_to_gguf.py (llama.cpp's converter's computation) writes for each config.json. */
export async function converterRopeFreqs(configs: readonly Record<string, unknown>[]): Promise<number[][]> {
  const script = `import json, sys\nsys.path.insert(0, ${JSON.stringify(HERE)})\nfrom hf_to_gguf import rope_freqs\nprint(json.dumps([rope_freqs(c).tolist() for c in json.load(sys.stdin)]))`;
  const child = run(await pythonWithNumpy(), ['-c', script], { maxBuffer: 1 << 24 });
  child.child.stdin!.end(JSON.stringify(configs));
  return JSON.parse((await child).stdout) as number[][];
}
