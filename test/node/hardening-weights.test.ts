import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSource } from '../../src/node/file-source.ts';
import { readSafetensors, writeSafetensors, type SafetensorsEntry } from '../../src/formats/safetensors.ts';
import { concatBytes } from '../concat-bytes.ts';
import { STORIES_DIR, fixtureTextPath } from './fixture-paths.ts';
import { runCli } from './run-cli.ts';

/**
 * Issue 21, items 9 and 10, through the CLI: weights that are integers where floats belong
 * (a bitsandbytes-style int8 checkpoint) are refused naming the tensor, and a model whose
 * logits are finite but huge never reports "ppl": null with exit 0.
 */
const work = mkdtempSync(join(tmpdir(), 'shrinkray-weights-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let entries: SafetensorsEntry[];
beforeAll(async () => {
  const file = await readSafetensors(await fileSource(join(STORIES_DIR, 'model.safetensors')));
  entries = [];
  for (const t of file.tensors.values()) entries.push({ name: t.name, dtype: 'F32', shape: [...t.shape], data: await t.read() });
});

/** A copy of stories260K whose weights are `edit(entries)`. */
function storiesWith(name: string, edit: (e: SafetensorsEntry[]) => SafetensorsEntry[]): string {
  const dir = join(work, name);
  cpSync(STORIES_DIR, dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), concatBytes(writeSafetensors(edit(entries.map((e) => ({ ...e }))))));
  return dir;
}

describe('integer weights', () => {
  it('a bitsandbytes-style int8 checkpoint (I8 codes + .SCB scales) is refused naming the tensor, the dtype and the reader', async () => {
    const dir = storiesWith('bnb', (es) =>
      es.flatMap((e) => {
        if (!/layers\.\d+\.(self_attn|mlp)\.\w+_proj\.weight$/.test(e.name)) return [e];
        const rows = e.shape[0]!;
        const data = e.data as Float32Array;
        const codes = Int8Array.from(data, (v) => Math.max(-127, Math.min(127, Math.round(v * 127))));
        const scb: SafetensorsEntry = {
          name: e.name.replace(/\.weight$/, '.SCB'),
          dtype: 'F32',
          shape: [rows],
          data: new Float32Array(rows).fill(1),
        };
        return [{ ...e, dtype: 'I8', data: new Uint8Array(codes.buffer) }, scb];
      }),
    );
    for (const verb of [
      ['eval', dir, '--text', fixtureTextPath('tinystories_eval.txt'), '--max-docs', '1'],
      ['import', dir, '--out', join(work, 'never')],
    ]) {
      const r = await runCli(verb);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /model\.safetensors: tensor 'model\.layers\.0\.self_attn\.q_proj\.weight' is stored as I8, bitsandbytes int8 codes \(scales in 'model\.layers\.0\.self_attn\.q_proj\.SCB'\): bitsandbytes int8 checkpoints are not supported; .*use the original fp16\/bf16 weights \[bad_file\]/,
      );
    }
  });

  it('an integer norm or embedding without scales is refused too', async () => {
    const dir = storiesWith('i32', (es) =>
      es.map((e) =>
        e.name === 'model.norm.weight'
          ? { ...e, dtype: 'I32', data: new Uint8Array(Int32Array.from(e.data as Float32Array, () => 1).buffer) }
          : e,
      ),
    );
    const r = await runCli(['eval', dir, '--text', fixtureTextPath('tinystories_eval.txt'), '--max-docs', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /tensor 'model\.norm\.weight' is stored as I32, integer codes .*use the original fp16\/bf16 weights \[bad_file\]/,
    );
  });
});

describe('huge finite logits', () => {
  it('eval on every engine reports a finite NLL or fails naming the model, never "ppl": null with exit 0', async () => {
    const dir = storiesWith('huge', (es) =>
      es.map((e) => (e.name === 'model.norm.weight' ? { ...e, data: Float32Array.from(e.data as Float32Array, (v) => v * 1e15) } : e)),
    );
    for (const engine of ['cpu', 'onnx', 'reference']) {
      const r = await runCli(['eval', dir, '--text', fixtureTextPath('tinystories_eval.txt'), '--max-docs', '1', '--engine', engine]);
      expect(r.stdout, engine).not.toContain('null');
      expect(r.code, engine).toBe(1);
      expect(r.stderr, engine).toMatch(
        /huge: the perplexity overflows: the mean negative log-likelihood is [0-9.e+]+ nats per token .*logits are huge/,
      );
    }
  });
});
