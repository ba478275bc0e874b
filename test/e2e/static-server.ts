import { createReadStream } from 'node:fs';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

/**
 * A plain static file server on loopback for the built app (dist/). With `isolation` it sends
 * COOP/COEP like the dev server; without, it is the "static host that cannot set headers"
 * of the PWA tests. With `prelude` (test/e2e/without-capabilities.ts) that script runs first in
 * every page and every script: it leads each .js file and is the first script of each HTML page.
 * It records every path it is asked for.
 */
export interface StaticServer {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.bin': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
};

/** `file`'s bytes with `prelude` first: at the top of a script, or as the first script of a page's head. */
async function withPrelude(file: string, prelude: string): Promise<Buffer> {
  const text = await readFile(file, 'utf8');
  if (extname(file) === '.html') return Buffer.from(text.replace('<head>', `<head><script>${prelude}</script>`));
  return Buffer.from(prelude + text);
}

export async function startStaticServer(dir: string, opts: { isolation: boolean; port?: number; prelude?: string }): Promise<StaticServer> {
  const root = resolve(dir);
  const requests: string[] = [];
  const http = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      requests.push(path);
      let file = normalize(join(root, path));
      if (file !== root && !file.startsWith(root + sep)) return void res.writeHead(403).end();
      let info = await stat(file).catch(() => null);
      if (info?.isDirectory()) {
        file = join(file, 'index.html');
        info = await stat(file).catch(() => null);
      }
      if (!info?.isFile()) return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      const ext = extname(file);
      const body = opts.prelude && ['.js', '.mjs', '.html'].includes(ext) ? await withPrelude(file, opts.prelude) : null;
      const headers: Record<string, string | number> = {
        'Content-Type': TYPES[ext] ?? 'application/octet-stream',
        'Content-Length': body ? body.length : info.size,
        'Cache-Control': 'no-cache',
      };
      if (opts.isolation) {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      res.writeHead(200, headers);
      if (req.method === 'HEAD') return void res.end();
      if (body) return void res.end(body);
      createReadStream(file).pipe(res);
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((ok, fail) => {
    http.once('error', fail);
    http.listen(opts.port ?? 0, '127.0.0.1', () => ok());
  });
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        http.closeAllConnections();
        http.close(() => ok());
      }),
  };
}

/**
 * A private copy of the built app (dist/), served on its own port: tests that rewrite the
 * deployment (a v2 build, a sub-path, extra files) never touch the shared dist/. `prepare`
 * may add files to the copy before serving. close() stops the server and deletes the copy.
 */
export async function serveDistCopy(opts: {
  isolation: boolean;
  subpath?: string;
  prepare?: (root: string) => Promise<void>;
}): Promise<StaticServer & { root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-dist-'));
  await cp(resolve('dist'), join(root, ...(opts.subpath ?? '').split('/').filter(Boolean)), { recursive: true });
  await opts.prepare?.(root);
  const server = await startStaticServer(root, { isolation: opts.isolation });
  return {
    ...server,
    root,
    close: async () => {
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
