import { describe, expect, it } from 'vitest';
import { referenceCalibBackend } from '../../src/compress/calib-backend.ts';
import { OutputProbe } from '../../src/compress/output-probe.ts';
import { measureSensitivity } from '../../src/compress/width-sensitivity.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import { ropeTable } from '../../src/model/reference-ops.ts';
import { ropeInverseFrequencies } from '../../src/model/rope-frequencies.ts';
import { readLayer } from '../../src/compress/calibrated-model.ts';
import { BlockRunner } from '../../src/compress/block-runner.ts';
import { randomLlamaIR, tinyConfig, tokenSequence } from './random-llama.ts';

/**
 * The sensitivities mixed precision chooses widths by, on a tiny random Llama with the
 * reference kernels: narrower widths cost more within each matrix, the output probe sees
 * nothing when nothing changes, and each matrix's errors are its layer errors in the probe's
 * units (KL per token at the narrowest width).
 */
describe('width sensitivities', () => {
  const config = tinyConfig({ hiddenSize: 64, intermediateSize: 128, numHeads: 4, numKvHeads: 2, headDim: 16 });
  const ir = randomLlamaIR(config, 7);
  const windows = [0, 1, 2].map((s) => Int32Array.from(tokenSequence(48, config.vocabSize, 10 + s)));

  it('rank widths within a matrix and scale them to the output damage at the narrowest', async () => {
    const s = await measureSensitivity(ir, windows, { quantizer: await createRtnQuantizer(), backend: referenceCalibBackend });
    expect(s).toHaveLength(7 * config.numLayers);
    for (const m of s) {
      const at = (label: string) => m.errors[m.options.findIndex((o) => o.label === label)]!;
      expect(at('int2-g32-asym')).toBeGreaterThan(at('int4-g32'));
      expect(at('int4-g32')).toBeGreaterThan(at('int8-g32'));
      expect(at('int8-g32')).toBeGreaterThan(at('fp16'));
      expect(at('int4-g32-asym')).toBeLessThan(at('int4-g64-asym'));
      expect(m.damage).toBeGreaterThan(0);
      const narrowest = m.bytes.indexOf(Math.min(...m.bytes));
      expect(m.errors[narrowest]).toBeCloseTo(m.damage, 12);
      m.errors.forEach((e, i) => expect(e / m.damage).toBeCloseTo(m.layerErrors[i]! / m.layerErrors[narrowest]!, 9));
    }
  });

  it('the output probe measures no damage for the float matrix itself, and some for a changed one', async () => {
    const rope = ropeTable(0, 48, ropeInverseFrequencies(config));
    const probe = new OutputProbe(ir, referenceCalibBackend, () => rope);
    const table = await ir.tensors.get('model.embed_tokens.weight')!.read(); // [vocab, 64]
    let x: Float32Array[] = windows.map((ids) => {
      const out = new Float32Array(ids.length * 64);
      ids.forEach((id, t) => out.set(table.subarray(id * 64, (id + 1) * 64), t * 64));
      return out;
    });
    for (let l = 0; l < config.numLayers; l++) {
      probe.record(l, x);
      const runner = new BlockRunner(referenceCalibBackend, config, await readLayer(ir, l), x, rope);
      await runner.pass('out');
      x = runner.x;
    }
    await probe.finish(x);
    const w = await readLayer(ir, 1);
    expect(await probe.damage(1, 'up', w.up)).toBeLessThan(1e-12);
    expect(
      await probe.damage(
        1,
        'up',
        w.up.map((v) => v * 0.5),
      ),
    ).toBeGreaterThan(1e-4);
  });
});
