import { open, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { fileSha256, listRepoFiles, modelInfo, repoCommit } from './hub-listing.ts';

/**
 * A stand-in for the Hugging Face hub on loopback: serves `<root>/<org>/<name>/...` at
 * `/<org>/<name>/resolve/main/<file>` with Range requests, and `/api/models/<org>/<name>`
 * listings. Faults can be injected per file (cut connections, slowness, corrupt bytes,
 * 500s), set from Node or, for browser tests, through `POST /__hub/faults`. `GET /__hub/stats`
 * answers the counts now; `GET /__hub/idle` answers them once no response body is being written.
 * A repo whose folder holds a `.gated` file is gated as the hub gates Gemma or Llama: its
 * listing is public, its files answer 401 (no token) or 403 (another token) with
 * `X-Error-Code: GatedRepo` unless the request carries `Authorization: Bearer <the file's text>`.
 */
export interface FileFault {
  /** Destroy the connection after this many body bytes of a response. */
  cutAfterBytes?: number;
  /** Destroy the connection of the response that would carry this byte of the file, just before it. */
  cutAtFileOffset?: number;
  /** How many responses to cut (default 1); 'always' cuts every one. */
  cutTimes?: number | 'always';
  /** Throttle the body to this rate. */
  bytesPerSecond?: number;
  /** 'flip': one byte in the middle is inverted; 'truncate': the last 1% is missing. */
  corrupt?: 'flip' | 'truncate';
  /** Answer this many requests with 500 before serving. */
  status500Times?: number;
  /** Serve the whole file with 200 to every Range request, as a server without range support does. */
  ignoreRange?: boolean;
  /** Answer with this Content-Type (a single-page host answers every unknown path with its index.html, as 'text/html'). */
  contentType?: string;
  /** Answer HEAD requests with this status (a host that does not allow HEAD answers 405). */
  headStatus?: number;
  /** Send no Content-Length (a static host that streams its files chunked). */
  noContentLength?: boolean;
}

/** Faults keyed by '<org>/<name>/<file>'. */
export type FaultTable = Record<string, FileFault>;

export interface HubStats {
  /** Body bytes written per '<org>/<name>/<file>', over all requests. */
  bytesServed: Record<string, number>;
  /** GET and HEAD requests per file. */
  requests: Record<string, number>;
  /** Connections cut by a fault, per file. */
  cuts: Record<string, number>;
  /** Each GET and HEAD of a file: method, file, Range and If-Range as asked, the status answered. */
  log: string[];
}

export interface HubServer {
  readonly url: string; // e.g. http://127.0.0.1:41234
  readonly port: number;
  readonly stats: HubStats;
  setFaults(faults: FaultTable): void;
  reset(): void;
  close(): Promise<void>;
}

export interface HubServerOptions {
  root: string;
  port?: number; // 0 or absent: any free port
  faults?: FaultTable;
}

const CORS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Range, If-Range, Content-Type, Authorization',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges, ETag, X-Repo-Commit, X-Error-Code',
  // The test page is cross-origin isolated (COEP require-corp): it may only load what opts in.
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

const PIECE = 64 * 1024;

export async function startHubServer(opts: HubServerOptions): Promise<HubServer> {
  const root = resolve(opts.root);
  let faults: FaultTable = { ...opts.faults };
  const counters = new Map<string, { cuts: number; errors: number }>();
  const stats: HubStats = { bytesServed: {}, requests: {}, cuts: {}, log: [] };
  // Bodies being written, and who waits for none to be (GET /__hub/idle): a client that dropped a
  // response may leave the server writing into it for a while, and bytesServed is final only after.
  let bodies = 0;
  const idleWaiters: (() => void)[] = [];
  const whenIdle = (): Promise<void> => (bodies === 0 ? Promise.resolve() : new Promise((r) => idleWaiters.push(r)));

  function counter(key: string) {
    let c = counters.get(key);
    if (!c) counters.set(key, (c = { cuts: 0, errors: 0 }));
    return c;
  }

  function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...CORS, 'Content-Type': 'application/json', ...headers });
    res.end(body);
  }

  function repoDir(repo: string): string | undefined {
    const dir = resolve(root, repo);
    return dir.startsWith(root + sep) ? dir : undefined;
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, repo: string, rev: string, file: string): Promise<void> {
    const key = `${repo}/${file}`;
    const dir = repoDir(repo);
    const path = dir && resolve(dir, file);
    const st = path && path.startsWith(dir + sep) ? await stat(path).catch(() => undefined) : undefined;
    if (rev !== 'main')
      return send(res, 404, JSON.stringify({ error: `Revision Not Found: ${rev}` }), { 'X-Error-Code': 'RevisionNotFound' });
    if (!path || !st?.isFile())
      return send(res, 404, JSON.stringify({ error: `Entry not found: ${key}` }), { 'X-Error-Code': 'EntryNotFound' });
    stats.requests[key] = (stats.requests[key] ?? 0) + 1;
    const gate = await readFile(join(dir, '.gated'), 'utf8').catch(() => undefined);
    const auth = req.headers.authorization;
    if (gate !== undefined && auth !== `Bearer ${gate}`) {
      const status = auth === undefined ? 401 : 403;
      stats.log.push(`${req.method} ${key} authorization=${auth === undefined ? '-' : 'other'} -> ${status}`);
      const why = auth === undefined ? 'You must be authenticated to access it.' : 'Your token has no access to it.';
      return send(res, status, JSON.stringify({ error: `Access to model ${repo} is restricted. ${why}` }), {
        'X-Error-Code': 'GatedRepo',
      });
    }
    const fault = faults[key] ?? {};
    const c = counter(key);
    if ((fault.status500Times ?? 0) > c.errors) {
      c.errors++;
      return send(res, 500, JSON.stringify({ error: 'injected server error' }));
    }
    if (req.method === 'HEAD' && fault.headStatus) {
      stats.log.push(`HEAD ${key} -> ${fault.headStatus}`);
      return send(res, fault.headStatus, '');
    }
    const etag = `"${await fileSha256(path, st.size, st.mtimeMs)}"`;
    const size = fault.corrupt === 'truncate' ? st.size - Math.max(1, Math.floor(st.size / 100)) : st.size;
    const headers: Record<string, string> = {
      ...CORS,
      'Accept-Ranges': 'bytes',
      ETag: etag,
      'X-Repo-Commit': '0'.repeat(40),
      'Content-Type': fault.contentType ?? 'application/octet-stream',
    };

    let start = 0;
    let end = size - 1; // inclusive
    let status = 200;
    const range = req.headers.range;
    const ifRange = req.headers['if-range'];
    if (fault.ignoreRange) delete headers['Accept-Ranges'];
    if (range && !fault.ignoreRange && (!ifRange || ifRange === etag)) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      const a = m?.[1] ? Number(m[1]) : undefined;
      const b = m?.[2] ? Number(m[2]) : undefined;
      if (m && a !== undefined) {
        start = a;
        end = b !== undefined ? Math.min(b, size - 1) : size - 1;
      } else if (m && b !== undefined) {
        start = Math.max(0, size - b);
      }
      if (!m || (a === undefined && b === undefined) || start >= size || start > end) {
        return send(res, 416, '', { 'Content-Range': `bytes */${size}` });
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    const length = Math.max(0, end - start + 1);
    if (!fault.noContentLength) headers['Content-Length'] = String(length);
    stats.log.push(`${req.method} ${key} range=${range ?? '-'} if-range=${ifRange ?? '-'} -> ${status}`);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();

    const times = fault.cutTimes === 'always' ? Infinity : (fault.cutTimes ?? 1);
    // A response that does not reach the cut point is not cut and does not use up a cut.
    const cutPoint = fault.cutAtFileOffset !== undefined ? fault.cutAtFileOffset - start : fault.cutAfterBytes;
    const cut = cutPoint !== undefined && cutPoint >= 0 && c.cuts < times && length > cutPoint ? cutPoint : undefined;
    if (cut !== undefined) c.cuts++;
    const flipAt = fault.corrupt === 'flip' ? Math.floor(st.size / 2) : -1;
    const handle = await open(path, 'r');
    bodies++;
    try {
      let sent = 0;
      const began = Date.now();
      while (sent < length) {
        if (res.destroyed) return;
        let n = Math.min(PIECE, length - sent);
        if (fault.bytesPerSecond) n = Math.min(n, Math.max(1, Math.floor(fault.bytesPerSecond / 20)));
        if (cut !== undefined) n = Math.min(n, cut - sent);
        if (n <= 0) return await cutConnection(res, stats, key);
        const buf = Buffer.alloc(n);
        await handle.read(buf, 0, n, start + sent);
        if (flipAt >= start + sent && flipAt < start + sent + n) buf[flipAt - start - sent] ^= 0xff;
        const ok = res.write(buf);
        sent += n;
        stats.bytesServed[key] = (stats.bytesServed[key] ?? 0) + n;
        if (!ok) await drained(res);
        if (fault.bytesPerSecond) {
          const due = began + (sent / fault.bytesPerSecond) * 1000;
          await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
        }
      }
      if (cut !== undefined && sent >= cut) return await cutConnection(res, stats, key);
      res.end();
    } finally {
      await handle.close();
      if (--bodies === 0) for (const wake of idleWaiters.splice(0)) wake();
    }
  }

  async function serveInfo(res: ServerResponse, repo: string, rev: string | undefined, blobs: boolean): Promise<void> {
    const dir = repoDir(repo);
    const st = dir ? await stat(dir).catch(() => undefined) : undefined;
    if (!dir || !st?.isDirectory())
      return send(res, 404, JSON.stringify({ error: 'Repository not found' }), { 'X-Error-Code': 'RepoNotFound' });
    if (rev !== undefined && rev !== 'main')
      return send(res, 404, JSON.stringify({ error: `Invalid rev id: ${rev}` }), { 'X-Error-Code': 'RevisionNotFound' });
    const files = await listRepoFiles(dir);
    send(res, 200, JSON.stringify(modelInfo(repo, repoCommit(files), files, blobs)));
  }

  async function control(req: IncomingMessage, res: ServerResponse, what: string): Promise<void> {
    if (what === 'stats') return send(res, 200, JSON.stringify(stats));
    if (what === 'idle') return void whenIdle().then(() => send(res, 200, JSON.stringify(stats)));
    if (req.method !== 'POST') return send(res, 405, '{}');
    let body = '';
    for await (const piece of req) body += piece;
    if (what === 'faults') {
      faults = JSON.parse(body || '{}') as FaultTable;
      counters.clear();
    } else if (what === 'reset') server.reset();
    else return send(res, 404, '{}');
    send(res, 200, '{}');
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (req.method === 'OPTIONS') return send(res, 204, '');
    if (parts[0] === '__hub') return control(req, res, parts[1] ?? '');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, JSON.stringify({ error: 'method not allowed' }));
    if (parts[0] === 'api' && parts[1] === 'models' && parts.length >= 4) {
      const repo = `${parts[2]}/${parts[3]}`;
      const rev = parts[4] === 'revision' ? parts.slice(5).join('/') : undefined;
      return serveInfo(res, repo, rev, url.searchParams.get('blobs') === 'true');
    }
    if (parts.length >= 5 && parts[2] === 'resolve') {
      return serveFile(req, res, `${parts[0]}/${parts[1]}`, parts[3]!, parts.slice(4).join('/'));
    }
    send(res, 404, JSON.stringify({ error: 'not found' }));
  }

  const http = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: String(e) }));
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    http.once('error', fail);
    http.listen(opts.port ?? 0, '127.0.0.1', () => ok());
  });
  const port = (http.address() as AddressInfo).port;
  const server: HubServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    setFaults(f) {
      faults = { ...f };
      counters.clear();
    },
    reset() {
      faults = {};
      counters.clear();
      for (const k of Object.keys(stats.bytesServed)) delete stats.bytesServed[k];
      for (const k of Object.keys(stats.requests)) delete stats.requests[k];
      for (const k of Object.keys(stats.cuts)) delete stats.cuts[k];
      stats.log.length = 0;
    },
    close: () =>
      new Promise<void>((ok) => {
        http.closeAllConnections();
        http.close(() => ok());
      }),
  };
  return server;
}

/** The cut: the bytes written so far reach the client (so byte counts are exact), then the socket dies without a clean end. */
async function cutConnection(res: ServerResponse, stats: HubStats, key: string): Promise<void> {
  stats.cuts[key] = (stats.cuts[key] ?? 0) + 1;
  await new Promise<void>((resolve) => {
    if (res.destroyed) return resolve();
    res.write(Buffer.alloc(0), () => resolve());
  });
  res.socket?.destroy();
}

/** Resolves when the response can take more bytes, or is closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed || res.writableEnded) return resolve(); // 'close' may already have fired
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Where a file lives on disk under the served root (for tests that compare bytes). */
export function hubFilePath(root: string, repo: string, file: string): string {
  return join(root, repo, file);
}
