import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { readLlama2cCheckpoint } from '../../src/formats/llama2c.ts';
import { writeSafetensors } from '../../src/formats/safetensors.ts';
import { importLlama2c } from '../../src/model/import-llama2c.ts';
import { tensorNames } from '../../src/model/tensor-table.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { loadModelFolder } from '../../src/node/model-folder.ts';
import { BUDGET } from '../error-budgets.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

const fixtures = process.env.SHRINKRAY_FIXTURES ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures');
const ckptPath = join(fixtures, 'stories260K', 'stories260K.bin');
const tokPath = join(fixtures, 'stories260K', 'tok512.bin');

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shrinkray-import-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs the CLI in-process and returns its exit code and stdout lines. */
async function cli(argv: string[]): Promise<{ code: number; lines: string[]; errors: string[] }> {
  const lines: string[] = [];
  const errors: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
  try {
    return { code: await main(argv), lines, errors };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

/** llama2.c's RoPE (run.c): rotate interleaved pairs (i, i+1) with frequency by i % headSize. */
function ropeInterleaved(v: Float32Array, pos: number, headSize: number): Float32Array {
  const out = Float32Array.from(v);
  for (let i = 0; i < v.length; i += 2) {
    const angle = pos / 10000 ** ((i % headSize) / headSize);
    const [c, s] = [Math.cos(angle), Math.sin(angle)];
    out[i] = v[i]! * c - v[i + 1]! * s;
    out[i + 1] = v[i]! * s + v[i + 1]! * c;
  }
  return out;
}

/** Hugging Face Llama's RoPE: rotate_half, pairing (j, j + headDim/2) within each head. */
function ropeHalf(v: Float32Array, pos: number, headDim: number): Float32Array {
  const out = new Float32Array(v.length);
  const half = headDim / 2;
  for (let h = 0; h < v.length; h += headDim) {
    for (let j = 0; j < half; j++) {
      const angle = pos / 10000 ** ((2 * j) / headDim);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      out[h + j] = v[h + j]! * c - v[h + j + half]! * s;
      out[h + j + half] = v[h + j + half]! * c + v[h + j]! * s;
    }
  }
  return out;
}

function matVec(w: Float32Array, x: Float32Array, rows: number): Float32Array {
  const cols = x.length;
  return Float32Array.from({ length: rows }, (_, r) => {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += w[r * cols + c]! * x[c]!;
    return sum;
  });
}

describe('llama2.c import', () => {
  it('permutes wq and wk so that rotate-half RoPE gives llama2.c attention scores', async () => {
    const { arrays, header: h } = await readLlama2cCheckpoint(await fileSource(ckptPath));
    const parts = await importLlama2c(await fileSource(ckptPath), { bytes: readFileSync(tokPath), name: tokPath });
    const hd = h.dim / h.nHeads;
    const emb = await arrays.get('token_embedding')!.read(); // [vocab, dim]
    const xq = emb.subarray(403 * h.dim, 404 * h.dim); // two real token embeddings as inputs
    const xk = emb.subarray(378 * h.dim, 379 * h.dim);
    for (const layer of [0, 4]) {
      const names = tensorNames.layer(layer);
      const [wq, wk] = [await arrays.get('wq')!.readSlice(layer), await arrays.get('wk')!.readSlice(layer)];
      const [hq, hk] = [await parts.ir.tensors.get(names.q)!.read(), await parts.ir.tensors.get(names.k)!.read()];
      for (const [pq, pk] of [
        [7, 3],
        [200, 199],
        [511, 0],
      ] as const) {
        const q1 = ropeInterleaved(matVec(wq, xq, h.dim), pq, hd);
        const k1 = ropeInterleaved(matVec(wk, xk, h.nKvHeads * hd), pk, hd);
        const q2 = ropeHalf(matVec(hq, xq, h.dim), pq, hd);
        const k2 = ropeHalf(matVec(hk, xk, h.nKvHeads * hd), pk, hd);
        for (let head = 0; head < h.nHeads; head++) {
          const kvHead = Math.floor(head / (h.nHeads / h.nKvHeads));
          let [s1, s2, scale] = [0, 0, 0];
          for (let d = 0; d < hd; d++) {
            s1 += q1[head * hd + d]! * k1[kvHead * hd + d]!;
            s2 += q2[head * hd + d]! * k2[kvHead * hd + d]!;
            scale += Math.abs(q1[head * hd + d]! * k1[kvHead * hd + d]!);
          }
          expect(Math.abs(s1 - s2), `layer ${layer} head ${head} positions ${pq},${pk}`).toBeLessThan(
            BUDGET.ropeConventionRelative * scale + BUDGET.ropeConventionAbsolute,
          );
        }
      }
      // The permutation is a reordering of rows within each head: same multiset of values.
      expect(Float32Array.from(hq).sort()).toEqual(Float32Array.from(wq).sort());
    }
  });

  it('imports through the CLI into a Hugging Face folder that loads back', async () => {
    const out = join(work, 'stories');
    const { code, lines } = await cli(['import', ckptPath, '--tokenizer', tokPath, '--out', out]);
    expect(code).toBe(0);
    const result = JSON.parse(lines.at(-1)!) as { out: string; params: number; bytes: number };
    const files = (await readdir(out)).sort();
    expect(files).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    let total = 0;
    for (const f of files) total += (await stat(join(out, f))).size;
    expect(result).toEqual({ out, params: 260_032, bytes: total });

    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 64,
      intermediate_size: 172,
      num_hidden_layers: 5,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      head_dim: 8,
      vocab_size: 512,
      max_position_embeddings: 512,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      torch_dtype: 'float32',
    });
    expect(JSON.parse(await readFile(join(out, 'generation_config.json'), 'utf8'))).toMatchObject({ bos_token_id: 1, eos_token_id: 2 });

    const model = await loadModelFolder(out);
    expect(model.ir.tensors.size).toBe(2 + 5 * 9);
    expect(model.ir.tensors.has(tensorNames.classifier)).toBe(false);
    const { arrays } = await readLlama2cCheckpoint(await fileSource(ckptPath));
    expect(await model.ir.tensors.get(tensorNames.embedding)!.read()).toEqual(await arrays.get('token_embedding')!.read());
    expect(await model.ir.tensors.get(tensorNames.layer(3).down)!.read()).toEqual(await arrays.get('w2')!.readSlice(3));
    expect(await model.ir.tensors.get(tensorNames.layer(2).v)!.read()).toEqual(await arrays.get('wv')!.readSlice(2));
    expect(model.tokenizerConfig).toMatchObject({ tokenizer_class: 'LlamaTokenizer' });

    // Importing the folder again copies it unchanged.
    const again = join(work, 'again');
    expect((await cli(['import', out, '--out', again])).code).toBe(0);
    for (const f of files) expect(await readFile(join(again, f)), f).toEqual(await readFile(join(out, f)));
  });

  it('loads a sharded fp16 folder and merges it into one model.safetensors, keeping fp16', async () => {
    const src = join(work, 'stories');
    const model = await loadModelFolder(src);
    const sharded = join(work, 'sharded');
    await mkdir(sharded, { recursive: true });
    const names = [...model.ir.tensors.keys()];
    const weightMap: Record<string, string> = {};
    for (const [i, half] of [names.slice(0, 20), names.slice(20)].entries()) {
      const shard = `model-0000${i + 1}-of-00002.safetensors`;
      const entries = [];
      for (const n of half) {
        const t = model.ir.tensors.get(n)!;
        entries.push({ name: n, dtype: 'F16' as const, shape: t.shape, data: await t.read() });
        weightMap[n] = shard;
      }
      await writeFile(join(sharded, shard), Buffer.concat(writeSafetensors(entries)));
    }
    await writeFile(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) await copyFile(join(src, f), join(sharded, f));

    const loaded = await loadModelFolder(sharded);
    expect(loaded.generationConfig).toBeNull();
    const emb32 = await model.ir.tensors.get(tensorNames.embedding)!.read();
    const emb16 = await loaded.ir.tensors.get(tensorNames.embedding)!.read();
    expect(Math.max(...emb32.map((v, i) => Math.abs(v - emb16[i]!) / Math.max(Math.abs(v), 2 ** -14)))).toBeLessThan(2 ** -10);

    const merged = join(work, 'merged');
    const { code } = await cli(['import', sharded, '--out', merged]);
    expect(code).toBe(0);
    const back = await loadModelFolder(merged);
    expect(back.ir.tensors.get(tensorNames.embedding)!.dtype).toBe('F16');
    expect(await back.ir.tensors.get(tensorNames.embedding)!.read()).toEqual(emb16);
    expect((await stat(join(merged, 'model.safetensors'))).size).toBeLessThan(600_000);
  });
});

describe('model folder errors', () => {
  async function brokenCopy(name: string, change: (dir: string) => Promise<void>): Promise<string> {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) await copyFile(join(work, 'stories', f), join(dir, f));
    await change(dir);
    return dir;
  }

  it('names missing files, unknown architectures, missing tensors and wrong shapes', async () => {
    const config = JSON.parse(await readFile(join(work, 'stories', 'config.json'), 'utf8'));
    const noConfig = await brokenCopy('no-config', (d) => rm(join(d, 'config.json')));
    await expectShrinkrayError(loadModelFolder(noConfig), 'missing_file', /no-config\/config\.json/);
    const noTok = await brokenCopy('no-tok', (d) => rm(join(d, 'tokenizer.json')));
    await expectShrinkrayError(loadModelFolder(noTok), 'missing_file', /no-tok\/tokenizer\.json/);
    const noWeights = await brokenCopy('no-weights', (d) => rm(join(d, 'model.safetensors')));
    await expectShrinkrayError(loadModelFolder(noWeights), 'missing_file', /no-weights\/model\.safetensors/);
    const gpt = await brokenCopy('gpt', (d) =>
      writeFile(join(d, 'config.json'), JSON.stringify({ ...config, architectures: ['GPT2LMHeadModel'] })),
    );
    await expectShrinkrayError(loadModelFolder(gpt), 'unsupported_architecture', /gpt\/config\.json: architecture 'GPT2LMHeadModel'/);
    const untied = await brokenCopy('untied', (d) =>
      writeFile(join(d, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: false })),
    );
    await expectShrinkrayError(
      loadModelFolder(untied),
      'bad_file',
      /untied\/model\.safetensors: missing tensor 'lm_head\.weight' \[512, 64\]/,
    );
    const wide = await brokenCopy('wide', (d) => writeFile(join(d, 'config.json'), JSON.stringify({ ...config, intermediate_size: 256 })));
    await expectShrinkrayError(
      loadModelFolder(wide),
      'bad_file',
      /tensor 'model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[172, 64\], expected \[256, 64\]/,
    );
    const cut = await brokenCopy('cut', async (d) => {
      const bytes = await readFile(join(d, 'model.safetensors'));
      await writeFile(join(d, 'model.safetensors'), bytes.subarray(0, 500_000));
    });
    await expectShrinkrayError(loadModelFolder(cut), 'bad_file', /cut\/model\.safetensors.*past the end/);
  });

  it('reports CLI mistakes as one line on stderr with a non-zero exit code', async () => {
    const noTok = await cli(['import', ckptPath, '--out', join(work, 'x')]);
    expect(noTok.code).toBe(1);
    expect(noTok.errors.join('\n')).toMatch(/missing --tokenizer.*\[bad_argument\]/);
    const truncated = join(work, 'truncated.bin');
    await writeFile(truncated, readFileSync(ckptPath).subarray(0, 4096));
    const bad = await cli(['import', truncated, '--tokenizer', tokPath, '--out', join(work, 'y')]);
    expect(bad.code).toBe(1);
    expect(bad.errors.join('\n')).toMatch(
      /truncated\.bin: not a valid llama2\.c checkpoint: truncated.*implies 1056540 bytes, but the file has 4096 \[bad_file\]/,
    );
  });
});

describe('npm run fixtures', () => {
  it('leaves an up-to-date demo model alone, and skips quietly without fixtures', async () => {
    const { ensureFixtures, demoModelDir } = await import('../../scripts/fixtures.ts');
    const logs: string[] = [];
    const first = await ensureFixtures((l) => logs.push(l)); // global setup already generated it
    expect(first).toEqual({ status: 'fresh', dir: demoModelDir });
    const model = await loadModelFolder(demoModelDir);
    expect(model.ir.config).toMatchObject({ hiddenSize: 64, numLayers: 5, numKvHeads: 4, vocabSize: 512, tieWordEmbeddings: true });

    const saved = process.env.SHRINKRAY_FIXTURES;
    process.env.SHRINKRAY_FIXTURES = join(work, 'no-fixtures-here');
    try {
      expect((await ensureFixtures((l) => logs.push(l))).status).toBe('missing');
    } finally {
      if (saved === undefined) delete process.env.SHRINKRAY_FIXTURES;
      else process.env.SHRINKRAY_FIXTURES = saved;
    }
    expect(logs.join('\n')).toMatch(/no-fixtures-here.*not found.*app still starts/);
  });
});
