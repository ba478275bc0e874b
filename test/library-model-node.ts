import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { main } from '../src/cli/main.ts';
import { loadEngine } from '../src/node/load-engine.ts';
import { generate } from '../src/runtime/generate.ts';
import { LIBRARY_CHAT_TEMPLATE, LIBRARY_MAX_TOKENS, LIBRARY_PROMPT, type LibraryExpected } from './library-model.ts';

/**
 * Writes the library tests' model into `dir` with `shrinkray compress` (the CLI's own entry), and
 * returns what `shrinkray generate` prints for the prompt (text) with the ids its runner
 * (loadEngine + generate, as src/cli/generate.ts runs them) makes.
 */
export async function writeLibraryModel(dir: string): Promise<LibraryExpected> {
  const stories = resolve(import.meta.dirname, '..', 'public', 'models', 'stories260K');
  const code = await main(['compress', stories, '--recipe', 'int4-g32', '--out', dir]);
  if (code !== 0) throw new Error(`shrinkray compress --recipe int4-g32 failed (exit ${code})`);
  await writeFile(join(dir, 'chat_template.jinja'), LIBRARY_CHAT_TEMPLATE);
  return {
    chat: await cliGreedy(dir, 'auto'),
    completion: await cliGreedy(dir, 'off'),
    onnxCompletion: await cliGreedy(dir, 'off', 'onnx'),
  };
}

async function cliGreedy(dir: string, chat: 'auto' | 'off', engine: 'cpu' | 'onnx' = 'cpu'): Promise<{ text: string; ids: number[] }> {
  const args = [
    'generate',
    dir,
    '--prompt',
    LIBRARY_PROMPT,
    '--max-new-tokens',
    String(LIBRARY_MAX_TOKENS),
    '--chat',
    chat,
    '--engine',
    engine,
  ];
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  let code: number;
  try {
    code = await main(args);
  } finally {
    process.stdout.write = write;
  }
  if (code !== 0) throw new Error(`shrinkray ${args.join(' ')} failed (exit ${code})`);
  const lines = stdout.replace(/\n$/, '').split('\n');
  const summary = JSON.parse(lines.pop()!) as { tokens: number };
  const text = lines.join('\n');
  const loaded = await loadEngine(dir, { engine });
  try {
    const { tokenizer } = loaded;
    const prompt =
      chat === 'auto'
        ? tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: LIBRARY_PROMPT }]), { addBos: false })
        : tokenizer.encode(LIBRARY_PROMPT, { addBos: true });
    const r = await generate(loaded.model, prompt, { maxNewTokens: LIBRARY_MAX_TOKENS, stopTokenIds: tokenizer.eosTokenIds });
    if (r.ids.length !== summary.tokens) throw new Error(`the CLI made ${summary.tokens} tokens, its runner ${r.ids.length}`);
    return { text, ids: r.ids };
  } finally {
    await loaded.dispose();
  }
}

/** The model and its expectations under the hub's root, where test/browser/library-api.test.ts fetches them. */
export async function writeLibraryHubFixture(root: string, repo: string, expectedRepo: string, file: string): Promise<void> {
  const expected = await writeLibraryModel(join(root, repo));
  await mkdir(join(root, expectedRepo), { recursive: true });
  await writeFile(join(root, expectedRepo, file), JSON.stringify(expected));
}
