import { parseArgs as parseNodeArgs } from 'node:util';
import { ShrinkrayError } from '../errors.ts';

/** Positional arguments and `--name value` options, as the CLI verbs receive them. */
export interface ParsedArgs {
  positional: string[];
  options: Map<string, string>;
  /** The boolean flags given (e.g. 'force'). */
  flags: Set<string>;
  help: boolean;
}

/** What a verb accepts: its options (which take a value), its flags (which take none), and how many positional arguments. */
export interface VerbSpec {
  usage: string;
  options: readonly string[];
  flags?: readonly string[];
  positionals: number;
}

/**
 * Parses one verb's arguments with node's util.parseArgs in strict mode: an unknown option,
 * an option given twice, a missing value, a value that looks like an option (`--out --recipe`)
 * or a surplus argument is a 'bad_argument' error naming it. `--help` / `-h` sets `help`.
 */
export function parseArgs(verb: string, argv: string[], spec: VerbSpec): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const name of spec.options) options[name] = { type: 'string' };
  for (const name of spec.flags ?? []) options[name] = { type: 'boolean' };
  let parsed;
  try {
    parsed = parseNodeArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: true,
      tokens: true,
    });
  } catch (e) {
    throw new ShrinkrayError('bad_argument', `${describeParseError(e, argv, verb, spec)} (see shrinkray ${verb} --help)`, { cause: e });
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name)) throw new ShrinkrayError('bad_argument', `--${t.name} is given more than once`);
    seen.add(t.name);
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const help = raw.help === true;
  if (!help && parsed.positionals.length > spec.positionals) {
    const extra = parsed.positionals[spec.positionals]!;
    throw new ShrinkrayError('bad_argument', `unexpected argument '${extra}' (see shrinkray ${verb} --help)`);
  }
  const values = new Map<string, string>();
  for (const name of spec.options) {
    const v = raw[name];
    if (typeof v === 'string') values.set(name, v);
  }
  const flags = new Set((spec.flags ?? []).filter((name) => raw[name] === true));
  return { positional: parsed.positionals, options: values, flags, help };
}

/** node's parse errors, reworded to name the option and what to do (their text spans lines). */
function describeParseError(e: unknown, argv: string[], verb: string, spec: VerbSpec): string {
  const code = (e as { code?: string }).code;
  const message = e instanceof Error ? e.message : String(e);
  const option = /'(-[^' ]+)/.exec(message)?.[1]?.replace(/,$/, '');
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
    const known = [...spec.options, ...(spec.flags ?? [])]
      .map((o) => `--${o}`)
      .concat('--help')
      .join(', ');
    return `unknown option ${option}; ${verb} takes ${known}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    if (/does not take an argument/.test(message)) return `${option === '-h' ? '--help' : option.replace(/=.*$/, '')} takes no value`;
    const next = argv[argv.indexOf(option) + 1];
    if (next !== undefined && next.startsWith('-')) {
      return `${option} needs a value, but '${next}' looks like an option; write ${option}=${next} if that is the value`;
    }
    return `${option} needs a value`;
  }
  return message.split('\n')[0]!;
}

// Usage errors, told apart from failures met while working: the CLI exits 2 for them (README), 1 for the rest.
const usageErrors = new WeakSet<Error>();

/** A 'bad_argument' error for an option or argument the user gave wrong (or left out): the CLI exits 2. */
export function usageError(message: string): ShrinkrayError {
  const e = new ShrinkrayError('bad_argument', message);
  usageErrors.add(e);
  return e;
}

export function isUsageError(e: unknown): boolean {
  return e instanceof Error && usageErrors.has(e);
}

export function requireOption(args: ParsedArgs, name: string): string {
  const value = args.options.get(name);
  if (value === undefined) throw usageError(`missing --${name}`);
  return value;
}

export function numberOption(args: ParsedArgs, name: string, fallback: number): number {
  const raw = args.options.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw usageError(`--${name} must be a number, got '${raw}'`);
  return value;
}

export function requirePositional(args: ParsedArgs, index: number, what: string): string {
  const value = args.positional[index];
  if (value === undefined) throw usageError(`missing ${what}`);
  return value;
}
