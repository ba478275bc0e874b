import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_CHUNK_BYTES } from '../../src/store/idb-store.ts';
import { FIXTURES } from '../e2e/app-helpers.ts';
import { clickButton, fillLabelled, waitFor } from './firefox-app.ts';
import { FirefoxShrinkrayPage } from './firefox-page.ts';
import { ownHub } from '../hub/own-hub.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * Every way in and out of the app in Firefox, in one browser: a 16 MB model from the loopback
 * hub (a deep link names it; the download, slowed down, is cancelled midway and resumes without
 * fetching again the chunk it stored), a calibrated preset (GPTQ on pasted stories) on the
 * demo, its zip exported, deleted and imported back with its report, a GGUF file's URL, and the
 * llama2.c pair from disk through the file picker.
 */
const REPO = 'test-org/synthetic-16m'; // 16 MB: two of the store's 8 MiB chunks, so a cancel keeps one
const WEIGHTS = `${REPO}/model.safetensors`;
const GGUF = 'stories260K-Q8_0.gguf';
/** Round-to-nearest int4-g32's perplexity on the demo's sample stories (test/e2e/calibrated-journey.test.ts). */
const RTN_INT4_G32_SAMPLE_PPL = 4.08;

let scratch = '';
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'shrinkray-firefox-sources-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const bodyHas = (text: string) => new Function(`return document.body.innerText.includes(${JSON.stringify(text)})`) as () => boolean;

describe('Firefox: every source, a calibrated preset, zip out and in', () => {
  it('hub download cancelled and resumed -> GPTQ on the demo -> zip out, delete, zip in -> GGUF URL -> llama2.c files from disk', async () => {
    const hubUrl = await ownHub(); // resets its counts and sets faults: not the hub other files use
    const hub = async (what: string, body?: unknown) =>
      (await fetch(`${hubUrl}/__hub/${what}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) })).json();
    const served = async (path: string) => ((await hub('stats')) as { bytesServed: Record<string, number> }).bytesServed[path] ?? 0;
    await hub('reset', {});
    const app = await FirefoxShrinkrayPage.open(`${inject('appUrl')}?model=${REPO}&hub=${encodeURIComponent(hubUrl)}`);
    const { page } = app;
    const started = Date.now();
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // The deep link checks the files; nothing is downloaded before the click.
    await waitFor(page, bodyHas('it fits.'), 'the file check');
    expect(await served(WEIGHTS)).toBe(0);
    await app.checkScreen('model-hub-preflight');
    const size = Number(
      (await (await fetch(`${hubUrl}/api/models/${REPO}?blobs=true`)).json()).siblings.find(
        (s: { rfilename: string }) => s.rfilename === 'model.safetensors',
      ).size,
    );
    await hub('faults', { [WEIGHTS]: { bytesPerSecond: 2_000_000 } });
    await clickButton(page, /^Download /);
    await waitFor(page, () => Number(document.getElementById('job-download')?.getAttribute('value')) > 10, 'the download under way');
    expect(await page.evaluate(() => document.querySelector('.job-detail')?.textContent)).toMatch(/^Downloading: .* · model\.safetensors$/);
    await app.checkScreen('model-hub-downloading');
    // Past the first chunk (8 MiB of 16 MB): it is stored when its last byte arrives.
    await waitFor(page, () => Number(document.getElementById('job-download')?.getAttribute('value')) > 60, 'the first chunk stored');
    await clickButton(page, 'Cancel');
    await waitFor(page, bodyHas('The bytes fetched so far are kept'), 'the cancelled download');
    await hub('idle'); // the hub may still be writing into the dropped response: count its bytes as fetched before the cancel
    const atCancel = await served(WEIGHTS);
    expect(atCancel).toBeLessThan(size);
    await hub('faults', {});
    await clickButton(page, /^Resume download/);
    await app.shrinkScreen();
    // The 8 MiB chunk stored before the cancel is not fetched again (the safetensors header, a few KB, is read again to check it).
    const resumed = (await served(WEIGHTS)) - atCancel;
    expect(resumed, ((await hub('stats')) as { log: string[] }).log.join('\n')).toBeLessThanOrEqual(size - DEFAULT_CHUNK_BYTES + 64 * 1024);

    mark('hub');
    // GPTQ on the demo, calibrated on twenty of the built-in stories pasted (Chromium's calibrated journey
    // pastes sixty; Firefox calibrates at about 0.37 s a window): the report says on what, and it beats round-to-nearest.
    await app.openScreen('1. Model');
    await app.chooseDemo();
    await app.check('GPTQ int4 + emb8');
    await waitFor(page, bodyHas('Built in: TinyStories calibration stories'), 'the calibration picker');
    const stories = (await readFile(join(FIXTURES, 'text', 'tinystories_calibration.txt'), 'utf8'))
      .split('<|endoftext|>')
      .slice(0, 20)
      .join('<|endoftext|>');
    await app.pasteCalibration(stories);
    await app.checkScreen('shrink-calibration');
    const title = 'stories260K (demo) · gptq-int4-g32+emb8';
    await app.compress(title);
    expect(await page.evaluate(() => document.querySelector('[data-testid="calibration"]')?.textContent)).toMatch(
      /^pasted text: (\d+) of \1 windows of 512 tokens \([\d,]+ tokens, seed 0\), [\d.]+ s$/,
    );
    mark('gptq');
    const ppl = await app.perplexity();
    mark('evaluated');
    expect(ppl.before).toBeCloseTo(3.548, 3);
    expect(ppl.after).toBeGreaterThan(ppl.before);
    expect(ppl.after).toBeLessThan(RTN_INT4_G32_SAMPLE_PPL);
    await app.checkScreen('shrink-report-calibrated');

    // Out as a zip, deleted, and back in with its report.
    const zip = join(scratch, 'export.zip');
    expect(await app.exportZip(zip)).toBe('stories260K-gptq-int4-g32+emb8.zip');
    await app.openScreen('Stored models');
    await expect.poll(() => app.storedModelNames()).toEqual([REPO, 'stories260K (demo)', title]);
    page.on('dialog', (d) => void d.accept());
    await page.evaluate((n: string) => (document.querySelector(`button[aria-label="Delete ${n}"]`) as HTMLButtonElement).click(), title);
    await expect.poll(() => app.storedModelNames(), { timeout: PAGE_WAIT_MS }).toEqual([REPO, 'stories260K (demo)']);
    await app.chooseFiles('Import a zip…', [zip]);
    await app.heading(`Report: ${title}`);
    expect(await app.numberIn('ppl-after')).toBe(ppl.after);
    await app.openScreen('Stored models');
    await expect.poll(() => app.storedModelNames()).toEqual([REPO, 'stories260K (demo)', title]);
    await app.checkScreen('models-imported');

    mark('zip');
    // A GGUF file's URL: checked first, then fetched by ranges and converted.
    await app.openScreen('1. Model');
    await fillLabelled(page, 'Repo id or GGUF URL', `${hubUrl}/test-org/fixture-text/resolve/main/${GGUF}`);
    await clickButton(page, 'Check files');
    await clickButton(page, 'Download and import GGUF');
    await app.shrinkScreen();
    await waitFor(page, bodyHas(`${GGUF} (url)`), 'the GGUF model chosen');
    expect(await served(`test-org/fixture-text/${GGUF}`)).toBeGreaterThan(0);

    mark('gguf');
    // Files from disk: the llama2.c checkpoint and its tokenizer through the file picker.
    await app.openScreen('1. Model');
    await app.chooseFiles('Choose files…', [join(FIXTURES, 'stories260K', 'stories260K.bin'), join(FIXTURES, 'stories260K', 'tok512.bin')]);
    await app.shrinkScreen();
    await waitFor(page, bodyHas('stories260K.bin (local)'), 'the llama2.c model chosen');
    await waitFor(page, bodyHas('LlamaForCausalLM: 5 layers'), 'its architecture');
    await app.checkScreen('shrink-local');

    // A Hugging Face folder's files through the file picker. (Firefox 153's WebDriver BiDi cannot
    // choose a directory for the folder picker: input.setFiles answers NS_ERROR_FILE_IS_DIRECTORY;
    // the folder picker's relative paths are Chromium's local-files test's.)
    await app.openScreen('1. Model');
    const folder = resolve('public/models/stories260K');
    await app.chooseFiles(
      'Choose files…',
      ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => join(folder, f)),
    );
    await app.shrinkScreen();
    await waitFor(page, bodyHas('local model (local)'), "the folder's files chosen"); // loose files: no folder to name it after
    await waitFor(page, bodyHas('LlamaForCausalLM: 5 layers'), 'its architecture');

    mark('local');
    console.log(`Firefox sources: ${marks.join(', ')}`);
    expect(app.errors).toEqual([]);
  });
});
