/**
 * SHA-256 throughput, MB/s, on the same buffer in one run (random bytes, fixed seed):
 *   hash-wasm (src/store/sha256.ts, the store's hasher) | the hand-written hasher it replaced
 *   (bench/sha256-handwritten.ts) | Node's crypto (OpenSSL, the ceiling; not in browsers)
 * and the download path: a loopback HTTP server -> fetch -> a staged file in the model store
 * (fake-indexeddb, so IndexedDB's own cost is Node's structured clone), as the store is now,
 * and with the hand-written hasher's work added per byte (about the store before).
 * Run: npx tsx bench/sha256.ts [--mb 256] [--download-mb 128] [--reps 3]
 */
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openModelStore } from '../src/store/idb-store.ts';
import { Sha256 } from '../src/store/sha256.ts';
import { HandwrittenSha256 } from './sha256-handwritten.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const MB = 1024 * 1024;
const bufferMb = Number(arg('mb', '256'));
const downloadMb = Number(arg('download-mb', '128'));
const reps = Number(arg('reps', '3'));

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  let x = seed;
  for (let i = 0; i < words.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    words[i] = x;
  }
  return out;
}

/** Best-of-reps MB/s of `run` over `mb` megabytes (the best run is the least disturbed by other load). */
async function best(mb: number, run: () => unknown): Promise<{ mbps: number; result: unknown }> {
  let seconds = Infinity;
  let result: unknown;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    result = await run();
    seconds = Math.min(seconds, (performance.now() - t) / 1000);
  }
  return { mbps: mb / seconds, result };
}

// Hash alone, fed in the store's 8 MiB chunks.
const data = randomBytes(bufferMb * MB, 1);
const pieces = (b: Uint8Array, size = 8 * MB) =>
  Array.from({ length: Math.ceil(b.byteLength / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));
const hashRows: [string, () => Promise<string> | string][] = [
  [
    'hash-wasm (store)',
    async () => {
      const h = await Sha256.create();
      for (const p of pieces(data)) h.update(p);
      return h.hex();
    },
  ],
  [
    'hand-written (before)',
    () => {
      const h = new HandwrittenSha256();
      for (const p of pieces(data)) h.update(p);
      return h.hex();
    },
  ],
  [
    'node:crypto (ceiling)',
    () => {
      const h = createHash('sha256');
      for (const p of pieces(data)) h.update(p);
      return h.digest('hex');
    },
  ],
];
console.log(`SHA-256 of ${bufferMb} MB in 8 MiB pieces, best of ${reps}:`);
console.log('| hasher | MB/s |\n|---|---|');
const digests = new Set<unknown>();
const speeds: Record<string, number> = {};
for (const [name, run] of hashRows) {
  const { mbps, result } = await best(bufferMb, run);
  digests.add(result);
  speeds[name] = mbps;
  console.log(`| ${name} | ${mbps.toFixed(0)} |`);
}
if (digests.size !== 1) throw new Error(`the hashers disagree: ${[...digests].join(', ')}`);
console.log(`hash-wasm / hand-written: ${(speeds['hash-wasm (store)']! / speeds['hand-written (before)']!).toFixed(1)}x`);

// The download path: fetch from loopback into a staged store file.
const payload = data.subarray(0, downloadMb * MB);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(payload.byteLength) });
  res.end(payload);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.safetensors`;
const store = await openModelStore({ name: 'bench-sha256', collectGarbage: false });
let stage = 0;

async function download(into: 'nothing' | 'store', extraHandwritten = false): Promise<string> {
  const res = await fetch(url);
  const reader = res.body!.getReader();
  const writer =
    into === 'store' ? await store.stageFile(`dl-${++stage}`, { name: 'model.safetensors', expectedSize: payload.byteLength }) : undefined;
  const old = extraHandwritten ? new HandwrittenSha256() : undefined;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    old?.update(value);
    await writer?.write(value);
  }
  if (!writer) return '';
  const info = await writer.finish();
  await store.discardStaged(`dl-${stage}`);
  return info.sha256;
}

console.log(`\nDownload of ${downloadMb} MB from loopback HTTP into the store (fake-indexeddb), best of ${reps}:`);
console.log('| path | MB/s |\n|---|---|');
for (const [name, run] of [
  ['fetch only (no store)', () => download('nothing')],
  ['fetch -> store, hash-wasm (now)', () => download('store')],
  ['fetch -> store + hand-written hash per byte (about before)', () => download('store', true)],
] as const) {
  console.log(`| ${name} | ${(await best(downloadMb, run)).mbps.toFixed(0)} |`);
}
store.close();
server.close();
