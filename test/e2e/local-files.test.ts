import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FIXTURES } from './app-helpers.ts';
import { ShrinkrayPage } from './shrinkray-page.ts';
import { PAGE_WAIT_MS } from '../hang-bound.ts';

/**
 * Local files through the file inputs, as a person picks them: the stories260K folder (the
 * folder picker) and the llama2.c pair (the file picker) both import; a corrupt safetensors
 * file is named in the message and nothing changes; a compressed model exported as a zip
 * and imported back comes back with its report.
 */
const DEMO_DIR = resolve('public/models/stories260K');
let scratch = '';

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'shrinkray-e2e-local-'));
  const broken = join(scratch, 'broken-model');
  await mkdir(broken);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) await copyFile(join(DEMO_DIR, f), join(broken, f));
  const weights = await readFile(join(DEMO_DIR, 'model.safetensors'));
  weights.fill(0x7b, 8, 40); // the header's JSON starts '{{{{…': not JSON
  await writeFile(join(broken, 'model.safetensors'), weights);
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('local files', () => {
  it('imports the stories260K folder and the llama2.c pair; names a corrupt file; exports and imports a zip', async () => {
    const appUrl = inject('appUrl');
    const app = await ShrinkrayPage.open(appUrl);
    const { page } = app;
    const folderInput = page.getByLabel('Choose a folder…');
    const filesInput = page.getByLabel('Choose files…');

    await folderInput.setInputFiles(DEMO_DIR);
    await page.getByRole('heading', { name: 'Shrink it' }).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.getByText('stories260K (local)', { exact: true }).isVisible()).toBe(true);
    await expect.poll(() => page.getByText('LlamaForCausalLM: 5 layers').isVisible()).toBe(true);

    await app.openScreen('1. Model');
    await filesInput.setInputFiles([join(FIXTURES, 'stories260K', 'stories260K.bin'), join(FIXTURES, 'stories260K', 'tok512.bin')]);
    await page.getByRole('heading', { name: 'Shrink it' }).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.getByText('stories260K.bin (local)', { exact: true }).isVisible()).toBe(true);

    await app.openScreen(/Stored models/);
    for (const summary of await page.locator('.files-detail summary').all()) await summary.click();
    const folder = await app.storedFiles('stories260K (local)');
    const pair = await app.storedFiles('stories260K.bin (local)');
    // The llama2.c conversion writes the same tensors the fixtures script wrote into the folder.
    expect(pair.get('model.safetensors')).toBe(folder.get('model.safetensors'));
    expect([...pair.keys()].sort()).toEqual([...folder.keys()].sort());
    const listBefore = await page.locator('.model-row strong').allTextContents();
    const bytesBefore = await page.getByTestId('model-bytes').getAttribute('title');

    await app.openScreen('1. Model');
    await folderInput.setInputFiles(join(scratch, 'broken-model'));
    const alert = page.getByRole('alert').filter({ hasText: 'failed' });
    await alert.waitFor();
    const message = (await alert.textContent())!;
    expect(message).toContain('model.safetensors');
    await app.checkScreen('model-import-error');
    await app.openScreen(/Stored models/);
    expect(await page.locator('.model-row strong').allTextContents()).toEqual(listBefore);
    expect(await page.getByTestId('model-bytes').getAttribute('title')).toBe(bytesBefore);

    // A compressed model out as a zip, deleted, and back in with its report.
    await page.locator('.model-row').filter({ hasText: 'stories260K (local)' }).first().getByRole('button', { name: 'Shrink' }).click();
    await page.getByLabel('Recipe (advanced: steps joined by +)').fill('int8');
    await page.getByRole('button', { name: 'Compress', exact: true }).click();
    await page.getByRole('heading', { name: 'Report: stories260K (local) · int8-g32' }).waitFor({ timeout: PAGE_WAIT_MS });
    // Let the measurement finish (on the CPU engine it takes a second on this model; cancelling
    // it raced with its end), so the zip carries the report with its figures.
    await page.getByTestId('ppl-after').waitFor({ timeout: PAGE_WAIT_MS });
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export as zip' }).click();
    const zipPath = join(scratch, (await download).suggestedFilename());
    await (await download).saveAs(zipPath);
    expect(zipPath).toMatch(/stories260K-int8-g32\.zip$/);
    await app.openScreen(/Stored models/);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete stories260K (local) · int8-g32' }).click();
    await expect.poll(() => page.locator('.model-row strong').allTextContents()).toEqual(listBefore);
    await page.getByLabel('Import a zip…').setInputFiles(zipPath);
    await page.getByRole('heading', { name: 'Report: stories260K (local) · int8-g32' }).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.getByText('int8-g32', { exact: true }).first().isVisible()).toBe(true);
    await expect.poll(() => page.locator('.model-row strong').allTextContents()).toEqual([...listBefore, 'stories260K (local) · int8-g32']);

    app.expectOnlyOrigins();
    expect(app.errors).toEqual([]);
  });
});
