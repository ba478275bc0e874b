import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShrinkrayError } from '../errors.ts';

/**
 * Builds the AssemblyScript kernels into their git-ignored build/ folders: `npm run build:wasm`
 * (scripts/build-wasm.ts) rebuilds the stale ones, and the CLI builds the missing ones on first
 * use (ensureWasmFile), so `npm ci` then any `npx shrinkray` command works. assemblyscript is a
 * devDependency, present after `npm ci`.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface WasmKernel {
  source: string; // the AssemblyScript entry, from the repository root
  output: string;
  flags: string[];
}

const KERNELS: WasmKernel[] = [
  { source: 'src/kernels/quantize/wasm/assembly/quantize.ts', output: 'src/kernels/quantize/wasm/build/quantize.wasm', flags: [] },
  { source: 'src/kernels/prune/wasm/assembly/prune.ts', output: 'src/kernels/prune/wasm/build/prune.wasm', flags: [] },
  { source: 'src/kernels/calib/wasm/assembly/calib.ts', output: 'src/kernels/calib/wasm/build/calib.wasm', flags: [] },
];

// The CPU engine (src/engine/wasm/): plain and relaxed SIMD (chosen at run time), each with a
// private memory (one thread) and a shared one (threads over SharedArrayBuffer). 65536 pages
// is wasm32's 4 GiB: the JS side gives each module its own memory with a smaller maximum.
for (const simd of ['plain', 'relaxed'] as const) {
  for (const memory of ['single', 'shared'] as const) {
    KERNELS.push({
      source: 'src/engine/wasm/assembly/index.ts',
      output: `src/engine/wasm/build/engine-${simd}-${memory}.wasm`,
      flags: [
        '--importMemory',
        ...(simd === 'relaxed' ? ['--enable', 'relaxed-simd'] : []),
        ...(memory === 'shared' ? ['--enable', 'threads', '--sharedMemory', '--maximumMemory', '65536'] : []),
      ],
    });
  }
}

/** Newest modification time of the source and the files beside it (a kernel may span several). */
function sourceTime(source: string): number {
  const dir = dirname(source);
  const times = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => statSync(join(dir, f)).mtimeMs);
  return Math.max(...times);
}

function isStale(source: string, output: string): boolean {
  if (!existsSync(output)) return true;
  const outTime = statSync(output).mtimeMs;
  // This file holds the flags: a change to them rebuilds everything.
  return sourceTime(source) > outTime || statSync(fileURLToPath(import.meta.url)).mtimeMs > outTime;
}

function compile({ source, output, flags }: WasmKernel): void {
  const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
  const out = join(root, output);
  if (!existsSync(asc)) {
    throw new ShrinkrayError('missing_file', `${out} is missing and cannot be built: assemblyscript is not installed (run 'npm ci')`);
  }
  mkdirSync(dirname(out), { recursive: true });
  // -O3 with --noAssert: the loader validates every argument before calling in; the stub
  // runtime never frees, and the kernels allocate nothing.
  const args = [asc, join(root, source), '--outFile', out, '--enable', 'simd', ...flags, '-O3', '--noAssert', '--runtime', 'stub'];
  try {
    execFileSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? '').trim();
    throw new ShrinkrayError('runtime_error', `building ${out} failed: ${stderr || (e as Error).message}`, { cause: e });
  }
}

/** Compiles every kernel whose source is newer than its output; returns the output paths. */
export function ensureWasm(): string[] {
  for (const kernel of KERNELS) if (isStale(join(root, kernel.source), join(root, kernel.output))) compile(kernel);
  return KERNELS.map((k) => join(root, k.output));
}

/**
 * `path` (a built kernel's file), built first when missing: the first miss builds every missing
 * kernel at once (about 20 s, synchronously: nothing else can run without them), saying so in one
 * line on stderr.
 */
export function ensureWasmFile(path: string): void {
  if (existsSync(path)) return;
  if (!KERNELS.some((k) => join(root, k.output) === resolve(path))) throw new ShrinkrayError('missing_file', `${path} is missing`);
  process.stderr.write(`shrinkray: building the WASM kernels on first use (about 20 s; 'npm run build:wasm' does it ahead)\n`);
  for (const kernel of KERNELS) if (!existsSync(join(root, kernel.output))) compile(kernel);
}
