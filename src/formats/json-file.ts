import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from './byte-source.ts';
import { printable } from './printable.ts';

/**
 * The one reader of a model's JSON side files (config.json, the shard index, tokenizer
 * files), wherever they live: a size cap first, so a wrong file is never read whole, then a
 * 'bad_file' error that names the file when it is not a JSON object.
 */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** Parses a JSON object; 'bad_file' names the file when it is not one. */
export function parseJsonObject(text: string, fileName: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (e) {
    // V8's message quotes the text around the error: file bytes, so made printable.
    throw new ShrinkrayError('bad_file', `${fileName}: not valid JSON (${printable((e as Error).message, 160)})`);
  }
}

/** Reads a whole small JSON file from a source. */
export async function readJsonSource(src: ByteSource): Promise<Record<string, unknown>> {
  if (src.size > MAX_JSON_BYTES) throw new ShrinkrayError('bad_file', `${src.name}: ${src.size} bytes is too large for a JSON side file`);
  return parseJsonObject(new TextDecoder().decode(await src.read(0, src.size)), src.name);
}
