/**
 * Fingerprints of what the compressor writes, to show that a refactoring changed no output byte:
 * `npx tsx scripts/output-fingerprints.ts <workDir> > before.txt`, change the code, run it again,
 * and `diff before.txt after.txt`. It runs the CLI (stories260K from ../shared/fixtures, imported,
 * then the round-to-nearest recipes and calibrated ones) and builds synthetic models of the two
 * published shapes (plain and fused attention). One line per file: sha-256, then what it is.
 * shrinkray.json carries timings, so only its per-tensor table is hashed. Nothing here is committed
 * output: the fixtures' derivatives stay in <workDir>.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { compressModel } from '../src/compress/pipeline.ts';
import { planCompression } from '../src/compress/plan.ts';
import { parseRecipe } from '../src/compress/recipe.ts';
import { createRtnQuantizer } from '../src/kernels/quantize/index.ts';
import { syntheticConfig, syntheticIR, type SyntheticShape } from '../src/model/synthetic-ir.ts';

const work = process.argv[2];
if (!work) throw new Error('usage: tsx scripts/output-fingerprints.ts <workDir> [--only cli|synthetic]');
const only = process.argv[3] === '--only' ? process.argv[4] : undefined;
const fixtures = join(import.meta.dirname, '../../shared/fixtures');
const cli = join(import.meta.dirname, '../bin/shrinkray.mjs');

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

function shrinkray(...args: string[]): void {
  execFileSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

function printFolder(label: string, dir: string): void {
  for (const f of filesUnder(dir)) {
    const bytes = readFileSync(join(dir, f));
    const hash = f === 'shrinkray.json' ? sha(JSON.stringify(JSON.parse(bytes.toString('utf8')).tensors ?? null)) : sha(bytes);
    console.log(`${hash}  ${label}/${relative(dir, join(dir, f))}`);
  }
}

const RTN = ['int4-g32', 'int8', 'ffn25+int4-g32', 'fp16', 'int4-g32+emb4', 'mag50+int4-g32', 'heads25+int8', '2:4+int8', 'int4-g64-asym'];
const CALIBRATED = ['gptq-int4-g32', 'awq-int4-g32', 'wanda50+int8', 'sparsegpt-2:4+int8', 'drop2', 'lr75-act'];

if (only !== 'synthetic') {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const hf = join(work, 'hf');
  shrinkray('import', join(fixtures, 'stories260K/stories260K.bin'), '--tokenizer', join(fixtures, 'stories260K/tok512.bin'), '--out', hf);
  printFolder('import', hf);
  for (const recipe of RTN) {
    const out = join(work, recipe.replace(/[^a-z0-9-]/gi, '_'));
    shrinkray('compress', hf, '--recipe', recipe, '--out', out);
    printFolder(recipe, out);
  }
  const calib = join(fixtures, 'text/tinystories_calibration.txt');
  for (const recipe of CALIBRATED) {
    const out = join(work, `cal-${recipe.replace(/[^a-z0-9-]/gi, '_')}`);
    shrinkray('compress', hf, '--recipe', recipe, '--out', out, '--calib', calib, '--calib-windows', '16');
    printFolder(recipe, out);
  }
}

if (only !== 'cli') {
  const SYNTHETIC = ['int4-g32', 'int8', 'heads50+int8-asym', 'ffn25+int4-g64+emb8', 'mag30+int2-g16', 'fp16'];
  const quantizer = await createRtnQuantizer({ prefer: 'reference' });
  for (const shape of ['smollm2-135m', 'qwen2.5-0.5b'] as SyntheticShape[]) {
    const config = syntheticConfig(shape, { numLayers: 2 });
    for (const recipe of SYNTHETIC) {
      for (const ops of ['plain', 'fused'] as const) {
        const r = await compressModel(syntheticIR(config, 1234), planCompression(parseRecipe(recipe), config), { quantizer, ops });
        const h = createHash('sha256').update(r.built.model);
        for (const c of r.built.externalData?.chunks ?? []) h.update(c);
        console.log(`${h.digest('hex')}  synthetic/${shape}/${recipe}/${ops}`);
      }
    }
  }
}
