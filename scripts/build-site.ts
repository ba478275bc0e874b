import { pathToFileURL } from 'node:url';
import { ensureSiteRuntime, readSiteRuntime } from '../src/node/site-build.ts';

/** `npm run build:site`: builds the exported demo site's runtime into public/site-runtime/ when stale (src/node/site-build.ts). */
export { ensureSiteRuntime };

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = await ensureSiteRuntime((line) => console.log(line));
  for (const f of readSiteRuntime(dir)) console.log(`site: ${f.path} (${f.bytes.byteLength} bytes)`);
}
