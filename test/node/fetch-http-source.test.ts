import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverModelFiles } from '../../src/fetch/discover-files.ts';
import { openHttpSource } from '../../src/fetch/http-byte-source.ts';
import { DEFAULT_HUB_URL, hubApiUrl, hubFileUrl, hubRef, parseRepoId } from '../../src/fetch/hub-url.ts';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { HUB_REPOS } from '../hub/hub-fixtures.ts';
import { useLoopbackHub } from './loopback-hub.ts';

/** Hub URLs, file discovery, and remote safetensors read lazily over Range requests. */

const hub = useLoopbackHub();

describe('hub URLs', () => {
  it('follows the hub layout and encodes revisions and paths', () => {
    // A mirror's base URL (trailing slash tolerated); the default hub is only named, never contacted.
    const ref = hubRef('HuggingFaceTB/SmolLM2-135M-Instruct', 'refs/pr/1', 'https://hub.example/');
    expect(hubFileUrl(ref, 'onnx/model q.onnx')).toBe(
      'https://hub.example/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/refs%2Fpr%2F1/onnx/model%20q.onnx',
    );
    expect(hubApiUrl(ref)).toBe('https://hub.example/api/models/HuggingFaceTB/SmolLM2-135M-Instruct/revision/refs%2Fpr%2F1?blobs=true');
    expect(hubApiUrl(hubRef('gpt2'))).toBe(`${DEFAULT_HUB_URL}/api/models/gpt2?blobs=true`);
    expect(parseRepoId(`${DEFAULT_HUB_URL}/Qwen/Qwen2.5-0.5B`)).toBe('Qwen/Qwen2.5-0.5B');
  });

  it("refuses ids and paths that are not the hub's", () => {
    for (const bad of ['a/b/c', '../x', 'org/-name', 'org/na..me', '']) {
      expect(() => parseRepoId(bad)).toThrow(/is not a hub repo id/);
    }
    expect(() => hubFileUrl(hubRef('a/b'), '../secret')).toThrow(/must be relative/);
    expect(() => hubRef('a/b', 'main', 'ftp://x')).toThrow(/must be http or https/);
  });
});

describe('discovery', () => {
  it('uses the listing, with sizes and LFS sha-256s', async () => {
    const plan = await discoverModelFiles(hubRef(HUB_REPOS.synthetic, 'main', hub.url));
    expect(plan.listed).toBe(true);
    const weights = plan.files.find((f) => f.path === 'model.safetensors')!;
    expect(weights.size).toBe((await readFile(join(hub.root, HUB_REPOS.synthetic, 'model.safetensors'))).byteLength);
    expect(weights.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.files.find((f) => f.path === 'config.json')!.sha256).toBeUndefined(); // not an LFS file
  });

  it('probes known names where a mirror has no listing API', async () => {
    // A fetch that hides the API route (404 without the hub's error code), as a plain file mirror would.
    const noApi: typeof fetch = async (input, init) =>
      String(input).includes('/api/') ? new Response('no', { status: 404 }) : fetch(input, init);
    const plan = await discoverModelFiles(hubRef(HUB_REPOS.sharded, 'main', hub.url), { fetch: noApi });
    expect(plan.listed).toBe(false);
    expect(plan.files.map((f) => f.path)).toEqual([
      'config.json',
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    expect(plan.files.at(-1)!.sha256).toMatch(/^[0-9a-f]{64}$/); // from the ETag
  });
});

describe('remote safetensors over Range requests', () => {
  it('reads the header and one tensor without downloading the file', async () => {
    const path = join(hub.root, HUB_REPOS.synthetic, 'model.safetensors');
    const disk = new Uint8Array(await readFile(path));
    const src = await openHttpSource(hubFileUrl(hubRef(HUB_REPOS.synthetic, 'main', hub.url), 'model.safetensors'), {
      name: 'model.safetensors',
    });
    expect(src.size).toBe(disk.byteLength);
    const remote = await readSafetensors(src);
    const local = await readSafetensors(bytesSource(disk, 'disk'));
    const name = 'model.layers.0.mlp.down_proj.weight';
    const [a, b] = [await remote.tensors.get(name)!.read(), await local.tensors.get(name)!.read()];
    expect(a.length).toBe(256 * 512); // [dim, ffn]
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    const served = hub.stats.bytesServed[`${HUB_REPOS.synthetic}/model.safetensors`]!;
    expect(served).toBe(remote.dataStart + remote.tensors.get(name)!.byteLength); // header + that tensor, nothing else
  });

  it('names the file when a range runs past its end', async () => {
    const src = await openHttpSource(hubFileUrl(hubRef(HUB_REPOS.synthetic, 'main', hub.url), 'config.json'), { name: 'config.json' });
    await expect(src.read(src.size - 1, 2)).rejects.toMatchObject({
      code: 'bad_file',
      message: expect.stringMatching(/^config\.json: truncated/),
    });
  });
});
