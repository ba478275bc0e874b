import { statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ensureWasm } from '../src/node/wasm-build.ts';

/** `npm run build:wasm`: builds the AssemblyScript kernels whose sources are newer than their outputs (src/node/wasm-build.ts). */
export { ensureWasm };

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const out of ensureWasm()) console.log(`wasm: ${out} (${statSync(out).size} bytes)`);
}
