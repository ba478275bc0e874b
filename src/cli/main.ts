import { isShrinkrayError } from '../errors.ts';
import { printable, quoted } from '../formats/printable.ts';
import { isUsageError, parseArgs, type ParsedArgs, type VerbSpec } from './args.ts';

type Verb = (args: ParsedArgs) => Promise<void>;

// Each verb's interface (checked before its module loads, so --help and a bad option are
// instant), and its module, loaded only when asked for. DESIGN.md "Interfaces other tools
// rely on" documents these; keep the two in step.
const verbs: Record<string, VerbSpec & { load: () => Promise<Verb> }> = {
  import: {
    usage:
      'import <ckpt.bin|model.gguf|https://…/model.gguf|hfDir> [--tokenizer tok.bin] --out <dir> [--force]\n' +
      '           [--retries N] [--stall-timeout SECONDS]',
    options: ['tokenizer', 'out', 'retries', 'stall-timeout'],
    flags: ['force'],
    positionals: 1,
    load: async () => (await import('./import.ts')).runImport,
  },
  compress: {
    usage:
      'compress <modelDir> --recipe <name> --out <dir> [--calib <textfile>] [--calib-windows N] [--calib-seed S]\n' +
      '           [--ops plain|fused] [--external-data-threshold BYTES] [--force]',
    options: ['recipe', 'out', 'calib', 'calib-windows', 'calib-seed', 'ops', 'external-data-threshold'],
    flags: ['force'],
    positionals: 1,
    load: async () => (await import('./compress.ts')).runCompress,
  },
  eval: {
    usage: 'eval <dir> --text <file> [--max-docs N] [--engine cpu|onnx|reference] [--threads N]',
    options: ['text', 'max-docs', 'engine', 'threads'],
    positionals: 1,
    load: async () => (await import('./eval.ts')).runEval,
  },
  generate: {
    usage:
      'generate <dir> [--prompt <text>] [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]\n' +
      '           [--repetition-penalty R] [--seed S] [--chat auto|on|off] [--engine cpu|onnx|reference] [--threads N]\n' +
      '           [--draft <compressedDir> [--draft-tokens k]]',
    options: [
      'prompt',
      'max-new-tokens',
      'temperature',
      'top-k',
      'top-p',
      'repetition-penalty',
      'seed',
      'chat',
      'engine',
      'threads',
      'draft',
      'draft-tokens',
    ],
    positionals: 1,
    load: async () => (await import('./generate.ts')).runGenerate,
  },
  'export-site': {
    usage: 'export-site <compressedDir> --out <dir> [--title <name>] [--webgpu] [--force]',
    options: ['out', 'title'],
    flags: ['force', 'webgpu'],
    positionals: 1,
    load: async () => (await import('./export-site.ts')).runExportSite,
  },
};

const usage = `usage: shrinkray <verb> [options]   (shrinkray <verb> --help for one verb)\n${Object.values(verbs)
  .map((v) => `  ${v.usage}`)
  .join('\n')}`;

/**
 * Runs one CLI verb; returns the process exit code: 0, 1 for a failure, 2 for a usage error.
 * Every failure is one line on stderr, `shrinkray <verb>: <message> [<code>]`; an unexpected
 * error (a bug) shows its stack only with SHRINKRAY_DEBUG=1.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const verb = name === undefined ? undefined : verbs[name];
  if (!verb) {
    // One line for a mistyped verb (the whole usage only when no verb was given).
    const verbNames = Object.keys(verbs).join(', ');
    console.error(
      name && !name.startsWith('-')
        ? `shrinkray: unknown verb ${quoted(name, 80)}; the verbs are ${verbNames} (shrinkray --help shows their options)`
        : usage,
    );
    return 2;
  }
  let args: ParsedArgs;
  try {
    args = parseArgs(name!, rest, verb);
  } catch (e) {
    return fail(name!, e, 2);
  }
  if (args.help) {
    process.stdout.write(`usage: shrinkray ${verb.usage}\n`);
    return 0;
  }
  try {
    await (
      await verb.load()
    )(args);
    return 0;
  } catch (e) {
    return fail(name!, e, isUsageError(e) ? 2 : 1);
  }
}

// Messages quote file contents (names, excerpts): escaped, so the terminal never obeys them, and cut to one readable line.
const MAX_MESSAGE_CHARS = 2000;

function fail(verb: string, e: unknown, code: number): number {
  if (isShrinkrayError(e)) {
    console.error(`shrinkray ${verb}: ${printable(e.message.replace(/\s*\n\s*/g, ' '), MAX_MESSAGE_CHARS)} [${e.code}]`);
  } else {
    const first = e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);
    console.error(`shrinkray ${verb}: unexpected error: ${printable(first, MAX_MESSAGE_CHARS)} (SHRINKRAY_DEBUG=1 shows the stack)`);
    if (process.env.SHRINKRAY_DEBUG === '1' && e instanceof Error) console.error(e.stack);
  }
  return code;
}
