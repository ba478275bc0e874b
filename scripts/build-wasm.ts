import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Builds the AssemblyScript kernels into their git-ignored build/ folders when stale. */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernels: { source: string; output: string; flags?: string[] }[] = [
  { source: 'src/kernels/quantize/wasm/assembly/quantize.ts', output: 'src/kernels/quantize/wasm/build/quantize.wasm' },
  { source: 'src/kernels/prune/wasm/assembly/prune.ts', output: 'src/kernels/prune/wasm/build/prune.wasm' },
  { source: 'src/kernels/calib/wasm/assembly/calib.ts', output: 'src/kernels/calib/wasm/build/calib.wasm' },
];

// The CPU engine (src/engine/wasm/): plain and relaxed SIMD (chosen at run time), each with a
// private memory (one thread) and a shared one (threads over SharedArrayBuffer). 65536 pages
// is wasm32's 4 GiB: the JS side gives each module its own memory with a smaller maximum.
for (const simd of ['plain', 'relaxed'] as const) {
  for (const memory of ['single', 'shared'] as const) {
    kernels.push({
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
  return Math.max(
    ...readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => statSync(join(dir, f)).mtimeMs),
  );
}

function isStale(source: string, output: string): boolean {
  if (!existsSync(output)) return true;
  const outTime = statSync(output).mtimeMs;
  return sourceTime(source) > outTime || statSync(fileURLToPath(import.meta.url)).mtimeMs > outTime;
}

/** Compiles every kernel whose source is newer than its output; returns the output paths. */
export function ensureWasm(): string[] {
  const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
  return kernels.map(({ source, output, flags = [] }) => {
    const src = join(root, source);
    const out = join(root, output);
    if (isStale(src, out)) {
      mkdirSync(dirname(out), { recursive: true });
      // -O3 with --noAssert: the loader validates every argument before calling in; the stub
      // runtime never frees, and the kernels allocate nothing.
      execFileSync(process.execPath, [asc, src, '--outFile', out, '--enable', 'simd', ...flags, '-O3', '--noAssert', '--runtime', 'stub'], {
        cwd: root,
        stdio: 'inherit',
      });
    }
    return out;
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const out of ensureWasm()) console.log(`wasm: ${out} (${statSync(out).size} bytes)`);
}
