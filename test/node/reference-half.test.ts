import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredDType } from '../../src/model/ir.ts';
import { openHfModel } from '../../src/model/hf-model.ts';
import type { ModelIR, TensorHandle } from '../../src/model/ir.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { storedLinear, widenMatrix } from '../../src/model/reference-half.ts';
import { linear } from '../../src/model/reference-ops.ts';
import { folderOpener } from '../../src/node/folder-opener.ts';
import { createRng } from '../seeded-random.ts';
import { LLAMA_32_1B, QWEN25_05B, tinyConfigJson, writeTinyModel, type ArchCase } from './arch-models.ts';

/**
 * The reference forward pass on a 16-bit checkpoint keeps its matrices as stored (issue 13:
 * no fp32 copy of the whole model) and widens a layer, or a block of classifier rows, while it
 * runs: its logits must be bit for bit those of the same model read as fp32.
 */
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shrinkray-ref-half-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tinyModel(c: ArchCase, dtype: StoredDType): Promise<ModelIR> {
  const dir = join(root, `${c.name.replace('/', '_')}-${dtype}`);
  await writeTinyModel(dir, tinyConfigJson(c), dtype);
  const { open, display } = folderOpener(dir);
  return (await openHfModel(open, display)).ir;
}

/** The same tensors without raw byte access: the reference then reads every one as fp32, as before. */
function asFp32(ir: ModelIR): ModelIR {
  const tensors = new Map<string, TensorHandle>();
  for (const [name, h] of ir.tensors) {
    tensors.set(name, { name: h.name, dtype: h.dtype, shape: h.shape, byteLength: h.byteLength, read: () => h.read() });
  }
  return { config: ir.config, tensors };
}

describe('the reference forward pass on 16-bit checkpoints', () => {
  it.each([
    [LLAMA_32_1B, 'BF16'],
    [QWEN25_05B, 'F16'],
  ] as const)('$0.name in %s: matrices held 16-bit, logits equal to the fp32-read model bit for bit', async (c, dtype) => {
    const ir = await tinyModel(c, dtype);
    const half = await ReferenceModel.load(ir);
    const full = await ReferenceModel.load(asFp32(ir));
    const layer = half.weights.layers[0]!;
    for (const m of [
      half.weights.embedding,
      half.weights.classifier,
      layer.q,
      layer.k,
      layer.v,
      layer.o,
      layer.gate,
      layer.up,
      layer.down,
    ]) {
      expect(m).not.toBeInstanceOf(Float32Array);
    }
    expect(full.weights.layers[0]!.q).toBeInstanceOf(Float32Array);
    const ids = Array.from({ length: 15 }, (_, i) => (i * 37 + 11) % ir.config.vocabSize);
    const sh = half.createState();
    const sf = full.createState();
    expect(await half.forward(sh, ids.slice(0, 12))).toEqual(await full.forward(sf, ids.slice(0, 12)));
    for (const id of ids.slice(12)) expect(await half.forward(sh, [id])).toEqual(await full.forward(sf, [id]));
  });

  it('a classifier widened a few rows at a time gives the products of the whole widened matrix', async () => {
    const ir = await tinyModel(LLAMA_32_1B, 'BF16');
    const half = await ReferenceModel.load(ir);
    const { hiddenSize: dim, vocabSize: vocab } = ir.config;
    const rng = createRng(3);
    const x = Float32Array.from({ length: 3 * dim }, () => rng() * 2 - 1);
    const whole = linear(x, widenMatrix(half.weights.classifier), null, 3, dim, vocab);
    expect(storedLinear(linear, x, half.weights.classifier, 3, dim, vocab, dim * 7)).toEqual(whole); // blocks of 7 rows, the last one short
  });
});
