import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Builds the AssemblyScript kernels into their git-ignored build/ folders when stale. */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernels = [
  { source: 'src/kernels/quantize/wasm/assembly/quantize.ts', output: 'src/kernels/quantize/wasm/build/quantize.wasm' },
  { source: 'src/kernels/prune/wasm/assembly/prune.ts', output: 'src/kernels/prune/wasm/build/prune.wasm' },
  { source: 'src/kernels/calib/wasm/assembly/calib.ts', output: 'src/kernels/calib/wasm/build/calib.wasm' },
];

function isStale(source: string, output: string): boolean {
  if (!existsSync(output)) return true;
  const outTime = statSync(output).mtimeMs;
  return statSync(source).mtimeMs > outTime || statSync(fileURLToPath(import.meta.url)).mtimeMs > outTime;
}

/** Compiles every kernel whose source is newer than its output; returns the output paths. */
export function ensureWasm(): string[] {
  const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
  return kernels.map(({ source, output }) => {
    const src = join(root, source);
    const out = join(root, output);
    if (isStale(src, out)) {
      mkdirSync(dirname(out), { recursive: true });
      // -O3 with --noAssert: the loader validates every argument before calling in; the stub
      // runtime never frees, and the kernels allocate nothing.
      execFileSync(process.execPath, [asc, src, '--outFile', out, '--enable', 'simd', '-O3', '--noAssert', '--runtime', 'stub'], {
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
