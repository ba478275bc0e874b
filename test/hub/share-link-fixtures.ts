import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SHARE_LINK_FOLDERS, SHARE_LINK_REPO } from './hub-repos.ts';

/**
 * The compressed model folders share links open (test/browser/share-link.test.ts,
 * test/e2e/share-link.test.ts), written into the loopback hub's root as subfolders of one
 * repo, so a link is `<hub>/<repo>/resolve/main/<folder>/`: stories260K compressed with
 * int4-g32 by the CLI's own entry (a fraction of a second each; once more with its weights as
 * external data), and copies of it that are not models in
 * one way each. Nothing here is committed: it is made from public/models/ at set-up.
 */
export async function writeShareLinkFixtures(root: string): Promise<void> {
  const repo = join(root, SHARE_LINK_REPO);
  const at = (folder: string) => join(repo, folder);
  const { main } = await import('../../src/cli/main.ts');
  const good = at(SHARE_LINK_FOLDERS.good);
  const code = await main(['compress', resolve('public/models/stories260K'), '--recipe', 'int4-g32', '--out', good]);
  if (code !== 0) throw new Error(`shrinkray compress --recipe int4-g32 failed (exit ${code})`);
  const external = ['--external-data-threshold', '0', '--out', at(SHARE_LINK_FOLDERS.external)];
  if ((await main(['compress', resolve('public/models/stories260K'), '--recipe', 'int4-g32', ...external])) !== 0)
    throw new Error('shrinkray compress --recipe int4-g32 --external-data-threshold 0 failed');

  // The graph and the tokenizer without config.json: not a model folder.
  await cp(good, at(SHARE_LINK_FOLDERS.noConfig), { recursive: true });
  await rm(join(at(SHARE_LINK_FOLDERS.noConfig), 'config.json'));
  // Everything but the graph.
  await cp(good, at(SHARE_LINK_FOLDERS.noGraph), { recursive: true });
  await rm(join(at(SHARE_LINK_FOLDERS.noGraph), 'onnx'), { recursive: true });
  // A model of an architecture Shrinkray does not run, its graph present.
  await cp(good, at(SHARE_LINK_FOLDERS.unsupported), { recursive: true });
  const gpt2 = { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 64, n_layer: 5, n_head: 8, vocab_size: 512 };
  await writeFile(join(at(SHARE_LINK_FOLDERS.unsupported), 'config.json'), JSON.stringify(gpt2, null, 2));
  // A single-page host's answer to every path: its index.html (the test serves it as text/html).
  await mkdir(at(SHARE_LINK_FOLDERS.html), { recursive: true });
  await writeFile(join(at(SHARE_LINK_FOLDERS.html), 'config.json'), '<!doctype html><title>My site</title><p>Welcome</p>\n');
}
