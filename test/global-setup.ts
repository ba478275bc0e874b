import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Derived models and build outputs are generated, never committed: make sure they exist
// before any test runs. A warm tree costs a few stat calls: the generators (and the source
// they import) load only when an output is missing or older than one of its inputs, so a
// single-file run starts in seconds.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Newest modification time among the files (folders: the files directly in them); missing ones count as new. */
function newest(paths: string[]): number {
  let time = 0;
  for (const path of paths) {
    if (!existsSync(path)) return Infinity;
    const stat = statSync(path);
    const times = stat.isDirectory() ? readdirSync(path).map((f) => statSync(join(path, f)).mtimeMs) : [stat.mtimeMs];
    time = Math.max(time, ...times);
  }
  return time;
}

/** Oldest modification time among the files; a missing one counts as infinitely old. */
function oldest(paths: string[]): number {
  let time = Infinity;
  for (const path of paths) time = existsSync(path) ? Math.min(time, statSync(path).mtimeMs) : -Infinity;
  return time;
}

const at = (...paths: string[]): string[] => paths.map((p) => join(root, p));

function fixturesStale(): boolean {
  const fixtures = process.env.SHRINKRAY_FIXTURES ?? resolve(root, '..', 'shared', 'fixtures');
  // Without the fixtures there is nothing to generate; scripts/fixtures.ts says so on a cold tree only.
  if (!existsSync(join(fixtures, 'stories260K'))) return false;
  // The generator, the folders its import code lives in, and the fixtures it reads (a superset of
  // what its content stamp hashes: a false alarm costs one stamp check, then the stamp is touched).
  const inputs = [
    ...at('scripts/fixtures.ts', 'src/formats', 'src/model', 'src/node', 'src/kernels/half.ts'),
    join(fixtures, 'stories260K'),
  ];
  // The stories copied beside the model only need to exist (the generator compares their bytes).
  const texts = at('public/models/text/tinystories_sample.txt', 'public/models/text/tinystories_calibration.txt');
  return !texts.every(existsSync) || newest(inputs) > oldest([stampPath]);
}

const stampPath = join(root, 'public/models/stories260K/.shrinkray-stamp');

/** Each kernel's output beside its assembly folder (as scripts/build-wasm.ts builds them). */
function wasmStale(): boolean {
  const kernels = ['quantize', 'prune', 'calib'].map((k) => ({
    inputs: at(`src/kernels/${k}/wasm/assembly`),
    outputs: at(`src/kernels/${k}/wasm/build/${k}.wasm`),
  }));
  kernels.push({
    inputs: at('src/engine/wasm/assembly'),
    outputs: ['plain', 'relaxed'].flatMap((simd) =>
      ['single', 'shared'].map((m) => join(root, `src/engine/wasm/build/engine-${simd}-${m}.wasm`)),
    ),
  });
  const script = newest(at('scripts/build-wasm.ts', 'src/node/wasm-build.ts')); // the compiler flags live in wasm-build.ts
  return kernels.some(({ inputs, outputs }) => Math.max(script, newest(inputs)) > oldest(outputs));
}

export default async function setup(): Promise<void> {
  // Each generator is itself a no-op when its outputs are up to date (a content stamp, per-kernel
  // mtimes): the check above only decides whether to load it, so a false alarm costs a second.
  if (fixturesStale()) {
    const { status } = await (await import('../scripts/fixtures.ts')).ensureFixtures();
    if (status === 'fresh') utimesSync(stampPath, new Date(), new Date());
  }
  if (wasmStale()) for (const out of (await import('../scripts/build-wasm.ts')).ensureWasm()) console.log(`wasm: ${out}`);
}
