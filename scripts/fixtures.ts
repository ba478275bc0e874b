/**
 * `npm run fixtures`: generates the bundled demo model public/models/stories260K/ (Hugging
 * Face layout) from the llama2.c fixture in ../shared/fixtures (or $SHRINKRAY_FIXTURES).
 * A stamp file holds a hash of the inputs and of the import code, so a second run is a
 * no-op; where the fixtures are absent it says so and succeeds, so the app still starts.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importLlama2c } from '../src/model/import-llama2c.ts';
import { fileSource } from '../src/node/file-source.ts';
import { writeModelFolder } from '../src/node/model-folder.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = '.shrinkray-stamp';
const FORMAT_VERSION = '1';
// The code whose output lands in the folder: a change to any of it regenerates the model.
const IMPORT_CODE = [
  'scripts/fixtures.ts',
  'src/formats/llama2c.ts',
  'src/formats/tokenizer-llama2c.ts',
  'src/formats/safetensors.ts',
  'src/kernels/half.ts',
  'src/model/hf-config.ts',
  'src/model/import-llama2c.ts',
  'src/node/model-folder.ts',
];

export function fixturesDir(): string {
  return process.env.SHRINKRAY_FIXTURES ?? resolve(repoRoot, '..', 'shared', 'fixtures');
}

export const demoModelDir = join(repoRoot, 'public', 'models', 'stories260K');
/** The sample stories the app scores the demo on (its report's perplexity), served beside the model. */
export const demoTextFile = join(repoRoot, 'public', 'models', 'text', 'tinystories_sample.txt');

/** Copies text/tinystories_sample.txt of the fixtures next to the demo model, when it differs. */
async function ensureDemoText(): Promise<void> {
  const source = join(fixturesDir(), 'text', 'tinystories_sample.txt');
  if (!existsSync(source)) return;
  const bytes = await readFile(source);
  if (existsSync(demoTextFile) && (await readFile(demoTextFile)).equals(bytes)) return;
  await mkdir(dirname(demoTextFile), { recursive: true });
  await writeFile(demoTextFile, bytes);
}

export interface FixturesResult {
  status: 'fresh' | 'generated' | 'missing';
  dir: string;
}

async function stampOf(inputs: string[]): Promise<string> {
  const hash = createHash('sha256').update(`shrinkray-fixtures ${FORMAT_VERSION}\n`);
  for (const path of [...inputs, ...IMPORT_CODE.map((p) => join(repoRoot, p))]) {
    hash.update(path.slice(path.lastIndexOf('/') + 1)).update(await readFile(path));
  }
  return hash.digest('hex');
}

/** Makes sure public/models/stories260K/ exists and matches its inputs. */
export async function ensureFixtures(log: (line: string) => void = console.log): Promise<FixturesResult> {
  const source = join(fixturesDir(), 'stories260K');
  const checkpoint = join(source, 'stories260K.bin');
  const tokenizer = join(source, 'tok512.bin');
  if (!existsSync(checkpoint) || !existsSync(tokenizer)) {
    log(`fixtures: ${source} not found; the bundled demo model is not generated (the app still starts without it)`);
    return { status: 'missing', dir: demoModelDir };
  }
  await ensureDemoText();
  const stamp = await stampOf([checkpoint, tokenizer]);
  const stampPath = join(demoModelDir, STAMP);
  if (existsSync(stampPath) && (await readFile(stampPath, 'utf8')).trim() === stamp) {
    return { status: 'fresh', dir: demoModelDir };
  }
  // Build in a temporary folder, then move file by file (each rename is atomic), stamp
  // last: a concurrent reader never sees a half-written file.
  await mkdir(dirname(demoModelDir), { recursive: true });
  const tmp = await mkdtemp(join(dirname(demoModelDir), '.stories260K-'));
  try {
    const parts = await importLlama2c(await fileSource(checkpoint), { bytes: await readFile(tokenizer), name: tokenizer });
    await writeModelFolder(tmp, parts);
    await mkdir(demoModelDir, { recursive: true });
    for (const name of await readdir(tmp)) await rename(join(tmp, name), join(demoModelDir, name));
    await writeFile(stampPath, stamp + '\n');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  log(`fixtures: generated ${demoModelDir} from ${source}`);
  return { status: 'generated', dir: demoModelDir };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await ensureFixtures();
}
