import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeAnchorStories } from '../gguf/gguf-fixtures.ts';

/**
 * What the URL-import tests stand on: a real GGUF (stories260K as F32, about 1 MB, written by
 * the wllama anchor's Python writer), a loopback HTTP server whose every answer is scripted
 * per request (status, length, ranges, cuts, silence, drips), and the CLI spawned as a user
 * runs it (bin/shrinkray.mjs), for what only a process shows: signals and hangs.
 */
let fixture: Promise<string> | undefined;

/** The path of stories260K-F32.gguf, written once per process (read-only to the tests that share it). */
export function storiesGguf(): Promise<string> {
  fixture ??= mkdtemp(join(tmpdir(), 'shrinkray-url-rig-')).then(async (dir) => {
    await writeAnchorStories(dir, ['F32']);
    return join(dir, 'stories260K-F32.gguf');
  });
  return fixture;
}

/** One request as the script sees it: its number (from 0), method, asked range (inclusive) and headers. */
export interface ScriptedRequest {
  n: number;
  method: string;
  range?: [number, number];
  headers: IncomingMessage['headers'];
}

/** How to answer one request. */
export type Answer =
  | { status: number } // that status, no body
  | { silent: true } // headers never sent, the socket held open
  | {
      /** Serve the asked range (the whole file for a request without Range, or with ignoreRange). */
      serve: true;
      ignoreRange?: boolean;
      /** Destroy the connection after this many body bytes. */
      cutAfter?: number;
      /** Send the body in pieces of `pieceBytes` (default 64 KiB), this many ms apart. */
      pieceMs?: number;
      pieceBytes?: number;
      /** Bytes past the asked range (a server that sends more than it was asked). */
      extra?: number;
    };

export interface ScriptedServer {
  url: (name?: string) => string;
  requests: ScriptedRequest[];
  close(): Promise<void>;
}

export async function startScriptedServer(bytes: Uint8Array, script: (r: ScriptedRequest) => Answer): Promise<ScriptedServer> {
  const requests: ScriptedRequest[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const range: [number, number] | undefined = m ? [Number(m[1]), m[2] ? Number(m[2]) : bytes.byteLength - 1] : undefined;
    const r: ScriptedRequest = { n: requests.length, method: req.method ?? 'GET', range, headers: req.headers };
    requests.push(r);
    open.add(res);
    res.on('close', () => open.delete(res));
    void answer(res, r, script(r));
  });
  async function answer(res: ServerResponse, r: ScriptedRequest, a: Answer): Promise<void> {
    if ('silent' in a) return;
    const headers: Record<string, string> = { ETag: '"fixed-etag"', 'Accept-Ranges': 'bytes' };
    if ('status' in a) {
      res.writeHead(a.status, { ...headers, 'Content-Length': '0' });
      return void res.end();
    }
    const start = r.range && !a.ignoreRange ? r.range[0] : 0;
    let end = r.range && !a.ignoreRange ? r.range[1] : bytes.byteLength - 1;
    if (start >= bytes.byteLength) {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${bytes.byteLength}` });
      return void res.end();
    }
    end = Math.min(bytes.byteLength - 1, end + (a.extra ?? 0));
    const body = bytes.subarray(start, end + 1);
    const partial = r.range !== undefined && !a.ignoreRange;
    res.writeHead(partial ? 206 : 200, {
      ...headers,
      'Content-Length': String(body.byteLength),
      ...(partial ? { 'Content-Range': `bytes ${start}-${end}/${bytes.byteLength}` } : {}),
    });
    if (r.method === 'HEAD') return void res.end();
    const piece = a.pieceBytes ?? 64 * 1024;
    const limit = a.cutAfter ?? Infinity;
    for (let at = 0; at < body.byteLength; at += piece) {
      if (res.destroyed) return;
      const chunk = body.subarray(at, Math.min(at + piece, body.byteLength, limit));
      if (chunk.byteLength > 0) res.write(chunk);
      if (at + piece >= limit) {
        // Let the headers and the bytes so far leave first: a cut in the body, not a refused request.
        await new Promise((w) => setTimeout(w, 20));
        return void res.destroy();
      }
      if (a.pieceMs) await new Promise((w) => setTimeout(w, a.pieceMs));
    }
    res.end();
  }
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (name = 'stories260K-F32.gguf') => `http://127.0.0.1:${port}/models/${name}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Serves every request in full (ranges honoured), as a good server does. */
export const honest = (): Answer => ({ serve: true });

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The exit: its code, or the signal that ended it. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'shrinkray.mjs');

/** `shrinkray <args>` as its own process. */
export function spawnCli(args: string[]): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.on('close', (code, signal) => ok({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

/**
 * Waits until `check` holds, looking every 20 ms (a file appearing has no event to wait on here).
 * No deadline of its own: a loaded machine only makes it later, and a hang meets the test's bound.
 */
export async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((w) => setTimeout(w, 20));
}

export const fileBytes = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
