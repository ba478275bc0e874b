import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { openModelStore } from '../../src/store/idb-store.ts';
import { createCompressClient, type Progress } from '../../src/worker/client.ts';
import { importUrlModel } from '../../src/worker/url-model-import.ts';
import { urlModelPreflight } from '../../src/worker/url-model-preflight.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { HUB_REPOS, SHARE_LINK_FOLDERS, SHARE_LINK_REPO } from '../hub/hub-repos.ts';

/**
 * Share links in real Chromium against the loopback hub: a compressed model folder served as a
 * hub repo's subfolder is checked (files, sizes, quota) and stored through the compress worker;
 * folders that are not models, and one too big for a quota set small, are refused with the URL
 * and the reason before a single graph or weight byte is requested (the hub's request log says so).
 */
const hubUrl = inject('hubUrl');
const folder = (name: string) => `${hubUrl}/${SHARE_LINK_REPO}/resolve/main/${name}/`;
const GOOD = folder(SHARE_LINK_FOLDERS.good);
const ROOMY = { usage: 0, quota: 1e9 };

interface HubStats {
  log: string[];
  bytesServed: Record<string, number>;
}
const hub = async (what: string, body?: unknown): Promise<HubStats> =>
  (await fetch(`${hubUrl}/__hub/${what}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) })).json();

/** Runs `body`, then answers the hub's log lines it caused (the hub serves one test file at a time). */
async function requestsOf(body: () => Promise<unknown>): Promise<string[]> {
  const before = (await hub('stats')).log.length;
  await body();
  return (await hub('idle')).log.slice(before);
}

/** Requests with a body for a weight or graph file: none may precede a refusal. */
const weightGets = (log: string[]) => log.filter((l) => l.startsWith('GET ') && /(onnx\/|\.safetensors )/.test(l));

describe('share links: a compressed model folder at a URL', () => {
  it('preflight lists the files and their sizes (HEAD only for the graph) and checks the quota', async () => {
    let plan!: Awaited<ReturnType<typeof urlModelPreflight>>;
    const log = await requestsOf(async () => (plan = await urlModelPreflight(`${GOOD}config.json?x=1`, { figures: ROOMY })));
    expect(plan.url).toBe(GOOD); // a link to the folder's config.json names the folder
    expect(plan.files.map((f) => f.path)).toEqual([
      'config.json',
      'shrinkray.json',
      'tokenizer.json',
      'onnx/model.onnx',
      'tokenizer_config.json',
      'generation_config.json',
    ]);
    const listing = (await (await fetch(`${hubUrl}/api/models/${SHARE_LINK_REPO}?blobs=true`)).json()) as {
      siblings: { rfilename: string; size: number }[];
    };
    const graph = listing.siblings.find((s) => s.rfilename === `${SHARE_LINK_FOLDERS.good}/onnx/model.onnx`)!.size;
    expect(plan.files.find((f) => f.path === 'onnx/model.onnx')!.size).toBe(graph);
    expect(plan).toMatchObject({ architecture: 'LlamaForCausalLM', recipe: 'int4-g32' });
    expect(plan.totalBytes).toBeGreaterThan(graph);
    expect(log).toContain(`HEAD ${SHARE_LINK_REPO}/${SHARE_LINK_FOLDERS.good}/onnx/model.onnx range=- if-range=- -> 200`);
    expect(weightGets(log)).toEqual([]);
  });

  it('sizes files on hosts without HEAD (the first byte by Range) or Content-Length (the graph as shrinkray.json bytesOut), and skips optional files answered with HTML', async () => {
    const file = (path: string) => `${SHARE_LINK_REPO}/${SHARE_LINK_FOLDERS.good}/${path}`;
    onTestFinished(async () => void (await hub('faults', {})));
    const sizes = async () => {
      let plan!: Awaited<ReturnType<typeof urlModelPreflight>>;
      const log = await requestsOf(async () => (plan = await urlModelPreflight(GOOD, { figures: ROOMY })));
      return { plan, log, size: (path: string) => plan.files.find((f) => f.path === path)?.size };
    };
    const exact = await sizes();
    const report = (await (await fetch(`${GOOD}shrinkray.json`)).json()) as { bytesOut: number };

    await hub('faults', {
      [file('onnx/model.onnx')]: { headStatus: 405 },
      [file('tokenizer.json')]: { noContentLength: true },
      [file('generation_config.json')]: { contentType: 'text/html' }, // a single-page host's answer for a file it lacks
    });
    const noHead = await sizes();
    expect(noHead.size('onnx/model.onnx')).toBe(exact.size('onnx/model.onnx'));
    expect(noHead.log).toContain(`GET ${file('onnx/model.onnx')} range=bytes=0-0 if-range=- -> 206`); // one byte of the graph, no more
    expect(noHead.size('tokenizer.json')).toBeUndefined(); // a side file: a few KB the total leaves out
    expect(noHead.plan.files.map((f) => f.path)).not.toContain('generation_config.json'); // optional: left out, not refused
    expect(noHead.plan.totalBytes).toBe(exact.plan.totalBytes - exact.size('tokenizer.json')! - exact.size('generation_config.json')!);

    await hub('faults', { [file('onnx/model.onnx')]: { noContentLength: true } });
    const noLength = await sizes();
    expect(noLength.size('onnx/model.onnx')).toBeUndefined();
    expect(report.bytesOut).toBe(exact.size('onnx/model.onnx'));
    expect(noLength.plan.totalBytes).toBe(exact.plan.totalBytes);
    expect(weightGets(noLength.log)).toEqual([]);
  });

  it('refuses a folder that is not a model, an HTML page, an unsupported architecture and a missing graph, naming the URL', async () => {
    const cases: [string, Parameters<typeof expectShrinkrayError>[1], RegExp][] = [
      [
        folder(SHARE_LINK_FOLDERS.noConfig),
        'missing_file',
        /is not a model folder Shrinkray compressed .*: it has no config\.json \(HTTP 404\)$/,
      ],
      [folder(SHARE_LINK_FOLDERS.html), 'bad_file', /: config\.json is an HTML page, not JSON/],
      [folder(SHARE_LINK_FOLDERS.unsupported), 'unsupported_architecture', /GPT2LMHeadModel/],
      [folder(SHARE_LINK_FOLDERS.noGraph), 'missing_file', /: onnx\/model\.onnx is missing \(HTTP 404\)$/],
      [
        `${hubUrl}/${HUB_REPOS.stories}/resolve/main/`,
        'missing_file',
        /has no shrinkray\.json; a share link opens an uncompressed Hugging Face folder/,
      ],
    ];
    const htmlConfig = `${SHARE_LINK_REPO}/${SHARE_LINK_FOLDERS.html}/config.json`;
    await hub('faults', { [htmlConfig]: { contentType: 'text/html; charset=utf-8' } });
    onTestFinished(async () => void (await hub('faults', {})));
    for (const [url, code, message] of cases) {
      const log = await requestsOf(async () => {
        const e = await expectShrinkrayError(urlModelPreflight(url, { figures: ROOMY }), code, message);
        expect(e.message).toContain(url);
      });
      expect(weightGets(log), url).toEqual([]);
    }
  });

  it('refuses a model too big for the quota before any graph byte moves, and stores nothing', async () => {
    const store = await openModelStore({ name: `share-link-quota-${Date.now()}` });
    onTestFinished(() => store.close());
    const tight = { usage: 0, quota: 200_000 }; // the int4 graph alone is 352 KB
    const log = await requestsOf(() =>
      expectShrinkrayError(
        importUrlModel(store, GOOD, undefined, undefined, tight),
        'quota_exceeded',
        new RegExp(`^not enough storage for the model at ${GOOD.replace(/[.+?]/g, '\\$&')}: it needs 0\\.\\d MB but only 0\\.2 MB is free`),
      ),
    );
    expect(weightGets(log)).toEqual([]);
    expect(await store.listModels()).toEqual([]);
    expect(await store.listStaged()).toEqual([]);
  });

  it('the compress worker stores the folder with its URL as source, with progress; a refusal crosses the worker whole', async () => {
    const c = createCompressClient({ storeName: `share-link-${Date.now()}` });
    onTestFinished(() => c.terminate());
    const progress: Progress[] = [];
    const info = await c.importModelUrl(GOOD, { onProgress: (p) => progress.push(p) });
    expect(info).toMatchObject({ id: `url:${GOOD}`, source: { kind: 'url', url: GOOD }, recipe: 'int4-g32' });
    expect(info.files.map((f) => f.path).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'onnx/model.onnx',
      'shrinkray.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const last = progress.filter((p) => p.stage === 'download').at(-1)!;
    expect(last.done).toBe(info.bytes);
    expect(last.total).toBe(info.bytes);
    // A graph with external data: the file shrinkray.json names is fetched beside it.
    const external = folder(SHARE_LINK_FOLDERS.external);
    const withData = await c.importModelUrl(external);
    const data = withData.files.find((f) => f.path === 'onnx/model.onnx_data');
    expect(data?.size).toBe(withData.report!.bytesOut - withData.files.find((f) => f.path === 'onnx/model.onnx')!.size);
    expect((await c.list()).map((m) => m.id)).toEqual([`url:${GOOD}`, `url:${external}`]);
    await expectShrinkrayError(c.importModelUrl(folder(SHARE_LINK_FOLDERS.noGraph)), 'missing_file', /onnx\/model\.onnx is missing/);
  });
});
