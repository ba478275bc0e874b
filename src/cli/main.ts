import { isShrinkrayError } from '../errors.ts';
import { parseArgs, type ParsedArgs } from './args.ts';

type Verb = (args: ParsedArgs) => Promise<void>;

// Each verb lives in its own module and is loaded only when asked for.
const verbs: Record<string, () => Promise<Verb>> = {
  import: async () => (await import('./import.ts')).runImport,
  generate: async () => (await import('./generate.ts')).runGenerate,
  eval: async () => (await import('./eval.ts')).runEval,
  compress: async () => (await import('./compress.ts')).runCompress,
};

const usage = `usage: shrinkray <verb> [options]
  import <ckpt.bin|hfDir> [--tokenizer tok.bin] --out <dir>
  compress <modelDir> --recipe <name> --out <dir> [--calib <textfile>]
  eval <dir> --text <file> [--max-docs N]
  generate <dir> [--prompt <text>] [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]
           [--repetition-penalty R] [--seed S] [--chat auto|on|off]`;

/** Runs one CLI verb; returns the process exit code. Errors print one clear line to stderr. */
export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || !(verb in verbs)) {
    console.error(verb && !verb.startsWith('-') ? `shrinkray: unknown verb '${verb}'\n${usage}` : usage);
    return verb === '--help' || verb === '-h' ? 0 : 2;
  }
  try {
    const run = await verbs[verb]!();
    await run(parseArgs(rest));
    return 0;
  } catch (e) {
    if (isShrinkrayError(e)) {
      console.error(`shrinkray ${verb}: ${e.message} [${e.code}]`);
      return 1;
    }
    throw e;
  }
}
