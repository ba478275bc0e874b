import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchApp } from '../e2e/app-browser.ts';
import { startStaticServer } from '../e2e/static-server.ts';
import { LIBRARY_MAX_TOKENS, LIBRARY_PROMPT, type LibraryExpected } from '../library-model.ts';
import { writeLibraryModel } from '../library-model-node.ts';

/**
 * The package as a user gets it: `npm pack` (its prepack builds dist-lib/), the tarball installed
 * offline into an empty project (its runtime is bundled: no dependency comes from a registry), then
 * 'shrinkray' imported from Node and from a page the repository's Vite builds, each loading the
 * CLI's int4-g32 stories model and giving the greedy ids and text the CLI gives.
 */
const root = resolve(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'shrinkray-package-'));
const app = join(work, 'app');
const model = join(work, 'model');
let want: LibraryExpected;

// Child processes run asynchronously, each with a bound: one that never ends fails its test
// (a synchronous run would block this worker where no test timeout fires).
const CHILD_MS = 300_000;
const run = async (cmd: string, args: string[], cwd: string) =>
  (await promisify(execFile)(cmd, args, { cwd, encoding: 'utf8', timeout: CHILD_MS, maxBuffer: 64 << 20 })).stdout;

beforeAll(async () => {
  want = await writeLibraryModel(model);
  // --ignore-scripts=false: the prepack script builds dist-lib/ even where npm's config skips scripts.
  await run('npm', ['pack', '--ignore-scripts=false', '--silent', '--pack-destination', work], root);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'empty-app', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, tarball)], app);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the packed 'shrinkray'", () => {
  it('installs with nothing but itself, and runs from Node with the CLI greedy ids', async () => {
    expect(readdirSync(join(app, 'node_modules')).filter((d) => !d.startsWith('.'))).toEqual(['shrinkray']);
    writeFileSync(
      join(app, 'run.mjs'),
      `import { createEngine } from 'shrinkray';
const engine = await createEngine(process.argv[2]);
const g = await engine.generate(${JSON.stringify(LIBRARY_PROMPT)}, { maxTokens: ${LIBRARY_MAX_TOKENS} });
const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: ${JSON.stringify(LIBRARY_PROMPT)} }], max_tokens: ${LIBRARY_MAX_TOKENS} });
await engine.unload();
console.log(JSON.stringify({ ids: g.ids, text: g.text, chat: r.choices[0].message.content, engine: engine.info.engine }));
`,
    );
    const out = JSON.parse(await run(process.execPath, ['run.mjs', model], app)) as Record<string, unknown>;
    expect(out).toEqual({ ids: want.completion.ids, text: want.completion.text, chat: want.chat.text, engine: 'cpu' });
  });

  it('says what its shrinkray command is: the library, with the CLI in a clone of the repository', () => {
    const cli = spawnSync(join(app, 'node_modules', '.bin', 'shrinkray'), ['--help'], { cwd: app, encoding: 'utf8', timeout: CHILD_MS });
    expect(cli.status).toBe(1);
    expect(cli.stderr.trim()).toMatch(/^shrinkray: this installed package is the library .*npm ci, then npx shrinkray <verb>$/);
  });

  it("types a consumer's code from the package's declarations (exports' types conditions)", () => {
    writeFileSync(
      join(app, 'check.ts'),
      `import { createEngine, isShrinkrayError, type ChatCompletion, type ChatCompletionChunk } from 'shrinkray';
const engine = await createEngine('https://example.org/model/', { engine: 'cpu', onProgress: (p) => p.done / p.total });
const reply: ChatCompletion = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });
const stream: AsyncIterable<ChatCompletionChunk> = await engine.chat.completions.create({ messages: [], stream: true });
const text: string = (await engine.generate('Once', { maxTokens: 4 })).text + reply.choices[0].message.content;
// @ts-expect-error: not a role the API takes
await engine.chat.completions.create({ messages: [{ role: 'tool', content: '' }] });
export { stream, text, isShrinkrayError };
`,
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const [module, resolution] of [
      ['nodenext', 'nodenext'],
      ['esnext', 'bundler'],
    ] as const) {
      const flags = [
        '--noEmit',
        '--strict',
        '--target',
        'es2022',
        '--lib',
        'es2022,dom',
        '--module',
        module,
        '--moduleResolution',
        resolution,
      ];
      const r = spawnSync(process.execPath, [tsc, ...flags, 'check.ts'], { cwd: app, encoding: 'utf8', timeout: CHILD_MS });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it('runs in a page built by Vite from the installed package, with the same greedy ids', async () => {
    writeFileSync(join(app, 'index.html'), '<!doctype html><title>shrinkray</title><script type="module" src="./main.js"></script>');
    writeFileSync(
      join(app, 'main.js'),
      `import { createEngine } from 'shrinkray';
try {
  const engine = await createEngine(new URL('./model/', location.href));
  const g = await engine.generate(${JSON.stringify(LIBRARY_PROMPT)}, { maxTokens: ${LIBRARY_MAX_TOKENS} });
  window.result = { ids: g.ids, text: g.text, engine: engine.info.engine };
} catch (e) {
  window.result = { error: String(e) };
}
`,
    );
    // The library's worker splits into chunks: Vite's default worker format (iife) cannot, so a page names 'es'.
    writeFileSync(join(app, 'vite.config.mjs'), "export default { base: './', logLevel: 'warn', worker: { format: 'es' } };");
    await run(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', app, '--outDir', join(app, 'dist')], app);
    cpSync(model, join(app, 'dist', 'model'), { recursive: true });
    const server = await startStaticServer(join(app, 'dist'), { isolation: false });
    try {
      const { page, errors } = await launchApp(`${server.url}/`);
      const result = await page.waitForFunction(() => (window as { result?: unknown }).result).then((h) => h.jsonValue());
      expect(result).toEqual({ ids: want.completion.ids, text: want.completion.text, engine: 'cpu' });
      // (The loader asks for the folder's optional files too, e.g. onnx/model.onnx_data: their 404s are the only console errors.)
      expect(errors.filter((e) => !e.includes('status of 404'))).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
