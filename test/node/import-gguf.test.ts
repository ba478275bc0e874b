import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { importGguf } from '../../src/model/import-gguf.ts';
import { importLlama2c, permuteRotaryRows } from '../../src/model/import-llama2c.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { BUDGET } from '../error-budgets.ts';
import { dumpWithAnchorReader, FIXTURES, writeAnchorStories, writeKquantModel } from '../gguf/gguf-fixtures.ts';
import { fixtureTextPath } from './fixture-paths.ts';
import { runCli, splitOutput } from './run-cli.ts';

/**
 * GGUF import against independent writers: stories260K written to GGUF by the wllama anchor
 * (F32, F16, Q8_0, Q4_0) and a tiny random model by test/gguf/kquant_gguf.py (every type,
 * K-quants included). Imported weights must equal the writers' own dequantized values bit for
 * bit (q/k rows reordered for rotate-half RoPE, as the llama2.c import does), and stories260K
 * from GGUF must give the fixtures' perplexity.
 */
const STORIES_CKPT = join(FIXTURES, 'stories260K', 'stories260K.bin');
const STORIES_TOK = join(FIXTURES, 'stories260K', 'tok512.bin');

let work: string;
let anchor: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shrinkray-gguf-'));
  anchor = await writeAnchorStories(work, ['F32', 'F16', 'Q8_0', 'Q4_0']);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const readF32 = (path: string) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/** GGUF name of each Hugging Face tensor of a llama model. */
function ggufName(hf: string): string {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight',
    'model.norm.weight': 'output_norm.weight',
    'lm_head.weight': 'output.weight',
  };
  if (fixed[hf]) return fixed[hf];
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(hf)!;
  const inLayer: Record<string, string> = {
    input_layernorm: 'attn_norm',
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    post_attention_layernorm: 'ffn_norm',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
  };
  return `blk.${m[1]}.${inLayer[m[2]!]}.weight`;
}

/** Every imported tensor equals the reference dump (q/k: the dump with its rows reordered for rotate-half). */
async function expectEqualsReference(ir: ModelIR, refDir: string): Promise<number> {
  const c = ir.config;
  let checked = 0;
  for (const [name, t] of ir.tensors) {
    let ref: Float32Array = readF32(join(refDir, `${ggufName(name)}.f32`));
    if (name.endsWith('q_proj.weight')) ref = permuteRotaryRows(ref, c.numHeads, c.headDim, c.hiddenSize);
    if (name.endsWith('k_proj.weight')) ref = permuteRotaryRows(ref, c.numKvHeads, c.headDim, c.hiddenSize);
    expect(await t.read(), name).toEqual(ref);
    checked++;
  }
  return checked;
}

describe('GGUF import: stories260K written by the wllama anchor', () => {
  it('F32: the same weights, config and tokenizer.json as the llama2.c import; the fixtures perplexity', async () => {
    const out = join(work, 'stories-f32');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const { code } = await runCli(['import', join(work, 'stories260K-F32.gguf'), '--out', out]);
    const summary = String(log.mock.calls.at(-1)?.[0]); // the import's last line: {"out","params","bytes"}
    log.mockRestore();
    expect(code).toBe(0);
    expect(JSON.parse(summary)).toMatchObject({ out, params: 260_032 });
    const fromGguf = await loadModelFolder(out);
    const fromBin = await importLlama2c(await fileSource(STORIES_CKPT), { bytes: readFileSync(STORIES_TOK), name: STORIES_TOK });
    expect(fromGguf.ir.config).toEqual(fromBin.ir.config);
    expect([...fromGguf.ir.tensors.keys()].sort()).toEqual([...fromBin.ir.tensors.keys()].sort());
    for (const [name, t] of fromBin.ir.tensors) expect(await fromGguf.ir.tensors.get(name)!.read(), name).toEqual(await t.read());
    expect(fromGguf.tokenizerJson).toEqual(fromBin.tokenizerJson);
    expect(fromGguf.tokenizerConfig).toEqual(fromBin.tokenizerConfig);

    const ev = await runCli(['eval', out, '--text', fixtureTextPath('tinystories_sample.txt')]);
    expect(ev.code).toBe(0);
    const { json } = splitOutput(ev.stdout);
    expect(json.tokens).toBe(1804);
    expect(Math.abs((json.nll as number) - 1.2664)).toBeLessThan(BUDGET.nllVsFixture);
    expect(Math.abs((json.ppl as number) - 3.548)).toBeLessThan(BUDGET.pplVsFixture);
  });

  it.each(['F16', 'Q8_0', 'Q4_0'])('%s: every tensor equals what the anchor reader dequantizes', async (type) => {
    const file = join(work, `stories260K-${type}.gguf`);
    const ref = join(work, `ref-${type}`);
    await dumpWithAnchorReader(anchor, file, ref);
    const parts = await importGguf(await fileSource(file));
    expect(await expectEqualsReference(parts.ir, ref)).toBe(2 + 5 * 9);
    // The quantized rows really were decoded (not stored F32): w1 (rows of 64) differs from the fp32 original.
    const original = await importLlama2c(await fileSource(STORIES_CKPT), { bytes: readFileSync(STORIES_TOK), name: STORIES_TOK });
    const gate = 'model.layers.0.mlp.gate_proj.weight';
    expect(await parts.ir.tensors.get(gate)!.read()).not.toEqual(await original.ir.tensors.get(gate)!.read());
  });
});

describe('GGUF import: every tensor type, K-quants included (test/gguf/kquant_gguf.py)', () => {
  it('imports through the CLI to weights equal to the writer’s dequantized values, and generates', async () => {
    const dir = join(work, 'kquant');
    const gguf = await writeKquantModel(dir);
    const out = join(work, 'kquant-out');
    const { code } = await runCli(['import', gguf, '--out', out]);
    expect(code).toBe(0);
    expect((await readdir(out)).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const model = await loadModelFolder(out);
    expect(model.ir.config).toMatchObject({ hiddenSize: 256, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 320 });
    expect(model.ir.config.tieWordEmbeddings).toBe(false);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toMatchObject({ rms_norm_eps: 1e-5, rope_theta: 10000 });
    expect(await expectEqualsReference(model.ir, join(dir, 'ref'))).toBe(3 + 2 * 9);

    for (const engine of ['reference', 'cpu']) {
      const gen = await runCli(['generate', out, '--prompt', 'the cat', '--max-new-tokens', '4', '--engine', engine]);
      expect(gen.code, gen.stderr).toBe(0);
      expect(splitOutput(gen.stdout).json).toMatchObject({ tokens: 4 });
    }
  });
});
