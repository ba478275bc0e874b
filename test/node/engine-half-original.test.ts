import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceCalibBackend } from '../../src/compress/calib-backend.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import { createPruner } from '../../src/kernels/prune/index.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { CpuCausalLM } from '../../src/engine/cpu-causal-lm.ts';
import { readSafetensors, writeSafetensors, type SafetensorsEntry } from '../../src/formats/safetensors.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { modelTensors } from '../../src/model/tensor-table.ts';
import { engineModulesNode, nodeThreadSpawner } from '../../src/node/engine-node.ts';
import { fileSource } from '../../src/node/file-source.ts';
import { loadModelFolder, type LoadedModel } from '../../src/node/model-folder.ts';
import { concatBytes } from '../concat-bytes.ts';
import { BUDGET } from '../error-budgets.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { PUBLISHED_BF16_REPO, writePublishedBf16 } from '../hub/hub-published-fixtures.ts';
import { createRng } from '../seeded-random.ts';
import { compareDecoding } from './logit-diff.ts';

/**
 * The original of a 16-bit checkpoint on the CPU engine: a sharded bf16 model as published
 * (and the same weights as fp16) is held as fp16 in the engine's heap, not widened to f32 (a
 * 1B model's fp32 copy would not fit the 4 GB wasm memory), and its logits match the fp32
 * reference forward pass, which reads the bf16 values exactly. A bf16 value beyond fp16's
 * range is refused naming the tensor. Calibration reads the bf16 embedding as stored and
 * writes the same bytes as from an fp32 checkpoint of the same values.
 */
let root: string;
let bf16: LoadedModel;
const opened: CpuCausalLM[] = [];

const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];

/** A copy of the bf16 folder whose shards hold `edit`ed tensors in `dtype`. */
async function variant(name: string, dtype: 'BF16' | 'F16' | 'F32', edit: (e: SafetensorsEntry) => void = () => {}): Promise<string> {
  const from = join(root, PUBLISHED_BF16_REPO);
  const dir = join(root, name);
  await rm(dir, { recursive: true, force: true });
  await cp(from, dir, { recursive: true });
  for (const shard of SHARDS) {
    const st = await readSafetensors(await fileSource(join(from, shard)));
    const entries: SafetensorsEntry[] = [];
    for (const t of st.tensors.values()) entries.push({ name: t.name, dtype, shape: [...t.shape], data: await t.read() });
    entries.forEach(edit);
    await writeFile(join(dir, shard), concatBytes(writeSafetensors(entries, { format: 'pt' })));
  }
  return dir;
}

async function engineOf(m: LoadedModel): Promise<CpuCausalLM> {
  const loader = await CpuModelLoader.create(await engineModulesNode(), { spawner: nodeThreadSpawner });
  const lm = await loader.fromIR(m.ir);
  opened.push(lm);
  return lm;
}

/** Elements of every matrix the engine keeps in 16 bits: linear weights and the embedding (the classifier is tied to it here). */
function matrixElements(m: LoadedModel): number {
  return modelTensors(m.ir.config)
    .filter((t) => t.shape.length === 2)
    .reduce((n, t) => n + t.shape[0]! * t.shape[1]!, 0);
}

/** Source values fp16 cannot hold exactly, counted independently: non-zero, below 2^-14 and not a multiple of 2^-24. */
async function expectedLossy(m: LoadedModel): Promise<{ lossy: number; flushed: number }> {
  let lossy = 0;
  let flushed = 0;
  for (const t of modelTensors(m.ir.config).filter((e) => e.shape.length === 2)) {
    for (const v of await m.ir.tensors.get(t.name)!.read()) {
      const a = Math.abs(v);
      if (a === 0 || a >= 2 ** -14 || Number.isInteger(a * 2 ** 24)) continue;
      lossy++;
      if (a <= 2 ** -25) flushed++;
    }
  }
  return { lossy, flushed };
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

const PROMPT = [151643, 9707, 11, 1879, 0, 33975, 25, 220, 16, 17, 18, 3555, 6623, 30];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shrinkray-half-'));
  await writePublishedBf16(root, PUBLISHED_BF16_REPO);
  bf16 = await loadModelFolder(join(root, PUBLISHED_BF16_REPO));
});
afterAll(async () => {
  for (const m of opened) await m.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('a 16-bit checkpoint as its original runs on the CPU engine', () => {
  it('bf16 shards are held as fp16 (half the bytes of f32) and give the reference logits within budget', async () => {
    expect(bf16.ir.tensors.get('model.embed_tokens.weight')!.dtype).toBe('BF16');
    const cpu = await engineOf(bf16);
    const w = cpu.info.weights!;
    expect(w.matrices).toBe('f16');
    expect(w.from).toEqual(['BF16']);
    expect(w.conversion).toEqual(await expectedLossy(bf16));
    // One decode step reads every linear weight, the tied classifier (the embedding's table) and one embedding row, 2 bytes each.
    expect(cpu.info.bytesPerToken).toBe(2 * (matrixElements(bf16) + bf16.ir.config.hiddenSize));
    expect(cpu.info.heapBytes()).toBeLessThan(4 * matrixElements(bf16));

    const ref = await ReferenceModel.load(bf16.ir);
    const scale = maxAbs(await ref.forward(ref.createState(), PROMPT));
    const d = await compareDecoding(ref, cpu, PROMPT, 6);
    expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.independentVsEngineRelative * scale);
  });

  it('runs with its weights, task block and scratch above 2 GiB of the wasm memory (addresses past int32), on 2 threads', async () => {
    // A 1B fp16 model fills the heap past 2^31 bytes: every address->index conversion must be unsigned.
    const loader = await CpuModelLoader.create(await engineModulesNode(), { threads: 2, spawner: nodeThreadSpawner });
    loader.allocate(2 ** 31 + 2 ** 20, 'padding below the model');
    const cpu = await loader.fromIR(bf16.ir);
    opened.push(cpu);
    expect(cpu.info.threads).toBe(2);
    const ref = await ReferenceModel.load(bf16.ir);
    const scale = maxAbs(await ref.forward(ref.createState(), PROMPT));
    const d = await compareDecoding(ref, cpu, PROMPT, 4);
    expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.independentVsEngineRelative * scale);
  });

  it('fp16 shards are copied bit for bit: no value changes', async () => {
    const f16 = await loadModelFolder(await variant('f16', 'F16'));
    const cpu = await engineOf(f16);
    expect(cpu.info.weights).toEqual({ matrices: 'f16', from: ['F16'], conversion: { lossy: 0, flushed: 0 } });
    const ref = await ReferenceModel.load(f16.ir);
    const scale = maxAbs(await ref.forward(ref.createState(), PROMPT));
    const d = await compareDecoding(ref, cpu, PROMPT, 6);
    expect(Math.max(d.prefill, d.decode)).toBeLessThan(BUDGET.independentVsEngineRelative * scale);
  });

  it('a bf16 weight beyond fp16 range is refused, naming the tensor and the value', async () => {
    const big = await loadModelFolder(
      await variant('overflow', 'BF16', (e) => {
        if (e.name === 'model.layers.1.mlp.down_proj.weight') (e.data as Float32Array)[7] = 1e6;
      }),
    );
    await expectShrinkrayError(engineOf(big), 'bad_file', /tensor 'model\.layers\.1\.mlp\.down_proj\.weight' holds 999424 at element 7/);
  });

  it('an fp32 checkpoint stays f32 on the engine', async () => {
    const f32 = await loadModelFolder(await variant('f32', 'F32'));
    const cpu = await engineOf(f32);
    expect(cpu.info.weights).toEqual({ matrices: 'f32', from: ['F32'], conversion: { lossy: 0, flushed: 0 } });
    expect(cpu.info.bytesPerToken).toBe(4 * (matrixElements(f32) + f32.ir.config.hiddenSize));
  });

  it('calibration reads a bf16 embedding as stored (rows widened on demand): same bytes as from the fp32 checkpoint of the same values', async () => {
    const f32 = await loadModelFolder(await variant('f32-calib', 'F32'));
    const rng = createRng(3);
    const windows = Array.from({ length: 4 }, () => Int32Array.from({ length: 32 }, () => Math.floor(rng() * bf16.ir.config.vocabSize)));
    const built = async (m: LoadedModel) => {
      const plan = planCompression(parseRecipe('gptq-int4-g32'), m.ir.config, { calibrationText: true });
      const opts = { quantizer: await createRtnQuantizer(), pruner: await createPruner() };
      return (await compressModel(m.ir, plan, { ...opts, calibration: { windows, backend: referenceCalibBackend } })).built.model;
    };
    expect(Buffer.compare(await built(bf16), await built(f32))).toBe(0);
  });
});
