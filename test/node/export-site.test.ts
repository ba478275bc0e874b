import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SITE_MODEL_DIR, type SiteCacheList, type SiteManifest } from '../../src/site/site-manifest.ts';
import type { ShrinkrayReport } from '../../src/compress/report.ts';
import { STORIES_DIR } from './fixture-paths.ts';
import { runCli, splitOutput } from './run-cli.ts';

/**
 * `shrinkray export-site`: a compressed folder becomes a static site (the page, its runtime,
 * sw.js with the list of files it keeps offline, site.json, README.md, the model under model/
 * byte for byte). The page itself runs in test/e2e/export-site.test.ts.
 */
const RUNTIME_BUDGET_GZIPPED = 400 * 1024; // issue 24: the runtime without the model

let scratch = '';
let model = '';
beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'shrinkray-site-'));
  model = join(scratch, 'stories-int8');
  expect((await runCli(['compress', STORIES_DIR, '--recipe', 'int8', '--out', model])).code).toBe(0);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(dir, `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe('shrinkray export-site', () => {
  it('writes the page, its runtime, sw.js with its cache list, site.json, a README and the model unchanged', async () => {
    const out = join(scratch, 'site');
    const run = await runCli(['export-site', model, '--out', out, '--title', 'Stories (int8)']);
    expect(run.code, run.stderr).toBe(0);
    const files = filesUnder(out);
    const modelFiles = filesUnder(model).sort();
    expect(files.filter((f) => f.startsWith(SITE_MODEL_DIR)).sort()).toEqual(modelFiles.map((f) => `${SITE_MODEL_DIR}${f}`));
    for (const f of modelFiles) expect(readFileSync(join(out, SITE_MODEL_DIR, f)).equals(readFileSync(join(model, f))), f).toBe(true);

    const report = JSON.parse(readFileSync(join(model, 'shrinkray.json'), 'utf8')) as ShrinkrayReport;
    const site = JSON.parse(readFileSync(join(out, 'site.json'), 'utf8')) as SiteManifest;
    // The source folder by its name only: the exporting machine's path is nobody's business on a public page.
    expect(site).toMatchObject({ format: 'shrinkray-site/1', title: 'Stories (int8)', recipe: 'int8-g32', source: 'stories260K' });
    expect(readFileSync(join(out, 'README.md'), 'utf8') + readFileSync(join(out, 'site.json'), 'utf8')).not.toContain(STORIES_DIR);
    expect(site.figures).toEqual({
      bytesIn: report.bytesIn,
      bytesOut: report.bytesOut,
      paramsIn: report.paramsIn,
      paramsOut: report.paramsOut,
    });
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    expect(readme).toContain('# Stories (int8): an on-device chat demo');
    expect(readme).toContain('- Recipe: `int8-g32`');

    // sw.js carries the list: every runtime file and site.json at install, the model as read.
    const sw = readFileSync(join(out, 'sw.js'), 'utf8');
    expect(sw).not.toContain('__SHRINKRAY_SITE_CACHE__');
    // A classic worker script: an import (a chunk shared with the page) would fail its evaluation.
    expect(sw).not.toMatch(/(^|[;}\s])import[\s{*]/);
    const list = JSON.parse(/(\{"version":.*?"modelDir":"model\/"\})/.exec(sw)![1]!) as SiteCacheList;
    expect(list.version).toMatch(/^[0-9a-f]{16}$/);
    expect(list.lazy.sort()).toEqual(modelFiles.map((f) => `${SITE_MODEL_DIR}${f}`));
    const rest = files.filter((f) => !f.startsWith(SITE_MODEL_DIR) && f !== 'sw.js').sort();
    expect([...list.shell].sort()).toEqual(rest);
    expect(rest).toContain('index.html');

    // The runtime (everything but the model), gzipped file by file as a static host serves it.
    const gzipped = rest.reduce((s, f) => s + gzipSync(readFileSync(join(out, f))).byteLength, 0);
    expect(gzipped).toBeLessThan(RUNTIME_BUDGET_GZIPPED);
    expect(splitOutput(run.stdout).json).toMatchObject({
      out,
      modelBytes: modelFiles.reduce((s, f) => s + readFileSync(join(model, f)).byteLength, 0),
    });
    console.log(`export-site: runtime ${rest.length} files, ${(gzipped / 1024).toFixed(1)} KiB gzipped`);
  });

  it('--webgpu carries onnxruntime-web (its wasm kept when first used, not at install) and asks the page for engine auto', async () => {
    const out = join(scratch, 'site-webgpu');
    const run = await runCli(['export-site', model, '--out', out, '--webgpu']);
    expect(run.code, run.stderr).toBe(0);
    const files = filesUnder(out);
    const ort = files.filter((f) => /^assets\/ort-wasm.*\.wasm$/.test(f));
    expect(ort.length).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(out, 'site.json'), 'utf8'))).toMatchObject({ engine: 'auto' });
    const sw = readFileSync(join(out, 'sw.js'), 'utf8');
    const list = JSON.parse(/(\{"version":.*?"modelDir":"model\/"\})/.exec(sw)![1]!) as SiteCacheList;
    for (const f of ort) {
      expect(list.lazy).toContain(f);
      expect(list.shell).not.toContain(f);
    }
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain("through onnxruntime-web's WebGPU where there is one");
    // The default export carries none of it.
    expect(filesUnder(join(scratch, 'site')).filter((f) => f.includes('ort-wasm'))).toEqual([]);
    expect(JSON.parse(readFileSync(join(scratch, 'site', 'site.json'), 'utf8'))).toMatchObject({ engine: 'cpu' });
  });

  it('refuses a folder that is not a compressed model, and a non-empty --out without --force', async () => {
    const plain = await runCli(['export-site', STORIES_DIR, '--out', join(scratch, 'plain')]);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain(`${STORIES_DIR} is not a compressed model: it has no onnx/model.onnx`);

    const busy = join(scratch, 'busy');
    rmSync(busy, { recursive: true, force: true });
    expect((await runCli(['export-site', model, '--out', busy])).code).toBe(0);
    writeFileSync(join(busy, 'mine.txt'), 'keep me');
    const again = await runCli(['export-site', model, '--out', busy]);
    expect(again.stderr).toMatch(/is not empty .*--force/);
    expect(readFileSync(join(busy, 'mine.txt'), 'utf8')).toBe('keep me');
    expect((await runCli(['export-site', model, '--out', busy, '--force'])).code).toBe(0);
    expect(filesUnder(busy)).not.toContain('mine.txt');
  });
});
