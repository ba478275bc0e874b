import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { HUB_REPOS } from '../hub/hub-fixtures.ts';
import { useLoopbackHub } from './loopback-hub.ts';

/** The loopback hub itself: the hub's URL layout, Range semantics, CORS, and each fault. */

const hub = useLoopbackHub();
let weights: Buffer;
const path = `${HUB_REPOS.synthetic}/model.safetensors`;
const url = () => `${hub.url}/${HUB_REPOS.synthetic}/resolve/main/model.safetensors`;

beforeAll(async () => {
  weights = await readFile(join(hub.root, path));
});

describe('hub layout and ranges', () => {
  it('serves whole files with ETag, CORS and CORP headers', async () => {
    const res = await fetch(url());
    expect(res.status).toBe(200);
    expect(res.headers.get('Accept-Ranges')).toBe('bytes');
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(res.headers.get('Cross-Origin-Resource-Policy')).toBe('cross-origin');
    expect(res.headers.get('ETag')).toBe(`"${createHash('sha256').update(weights).digest('hex')}"`);
    expect(Buffer.from(await res.arrayBuffer()).equals(weights)).toBe(true);
    expect(hub.stats.bytesServed[path]).toBe(weights.byteLength);
  });

  it('answers ranges with 206 and Content-Range, and bad ones with 416', async () => {
    const r = await fetch(url(), { headers: { Range: 'bytes=100-199' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('Content-Range')).toBe(`bytes 100-199/${weights.byteLength}`);
    expect(Buffer.from(await r.arrayBuffer()).equals(weights.subarray(100, 200))).toBe(true);
    const suffix = await fetch(url(), { headers: { Range: 'bytes=-10' } });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(weights.subarray(-10))).toBe(true);
    const past = await fetch(url(), { headers: { Range: `bytes=${weights.byteLength}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('Content-Range')).toBe(`bytes */${weights.byteLength}`);
    const stale = await fetch(url(), { headers: { Range: 'bytes=5-', 'If-Range': '"other"' } });
    expect(stale.status).toBe(200); // the file changed: the whole file, as RFC 9110 says
    await stale.body?.cancel();
  });

  it("answers HEAD without a body and unknown files with the hub's 404", async () => {
    const head = await fetch(url(), { method: 'HEAD' });
    expect(head.headers.get('Content-Length')).toBe(String(weights.byteLength));
    const missing = await fetch(`${hub.url}/${HUB_REPOS.synthetic}/resolve/main/nope.bin`);
    expect([missing.status, missing.headers.get('X-Error-Code')]).toEqual([404, 'EntryNotFound']);
    const escape = await fetch(`${hub.url}/${HUB_REPOS.synthetic}/resolve/main/..%2F..%2Fsharded%2Fconfig.json`);
    expect(escape.status).toBe(404);
  });
});

describe('faults', () => {
  it('cuts every response after N bytes when told to', async () => {
    hub.setFaults({ [path]: { cutAfterBytes: 1000, cutTimes: 'always' } });
    for (let i = 0; i < 2; i++) {
      // The cut may reach fetch before or after the headers resolve: either way the body never completes.
      await expect(fetch(url()).then((res) => res.arrayBuffer())).rejects.toThrow();
    }
    expect(hub.stats.bytesServed[path]).toBe(2000);
  });

  it('throttles, corrupts and fails on request', async () => {
    hub.setFaults({ [path]: { status500Times: 2, corrupt: 'flip' } });
    expect((await fetch(url())).status).toBe(500);
    expect((await fetch(url())).status).toBe(500);
    const body = Buffer.from(await (await fetch(url())).arrayBuffer());
    expect(body.byteLength).toBe(weights.byteLength);
    const diff = [...body.keys()].filter((i) => body[i] !== weights[i]);
    expect(diff).toEqual([Math.floor(weights.byteLength / 2)]);

    hub.setFaults({ [path]: { bytesPerSecond: 1_000_000 } });
    const slow = await fetch(url(), { headers: { Range: 'bytes=0-199999' } });
    expect(Buffer.from(await slow.arrayBuffer()).equals(weights.subarray(0, 200_000))).toBe(true); // paced in 50 ms slices, same bytes
  });

  it('takes faults and gives stats over HTTP (for browser tests)', async () => {
    const set = await fetch(`${hub.url}/__hub/faults`, { method: 'POST', body: JSON.stringify({ [path]: { corrupt: 'truncate' } }) });
    expect(set.ok).toBe(true);
    const head = await fetch(url(), { method: 'HEAD' });
    expect(Number(head.headers.get('Content-Length'))).toBeLessThan(weights.byteLength);
    const stats = await (await fetch(`${hub.url}/__hub/stats`)).json();
    expect(stats.requests[path]).toBe(1);
  });
});
