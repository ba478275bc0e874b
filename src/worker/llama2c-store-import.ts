import { ShrinkrayError } from '../errors.ts';
import { blobSource } from '../formats/byte-source.ts';
import { importLlama2c } from '../model/import-llama2c.ts';
import type { LocalFile } from './protocol.ts';
import type { ModelWriter } from './model-writer.ts';
import { writeModelParts } from './parts-writer.ts';

/**
 * A llama2.c checkpoint and its tokenizer .bin, converted into a Hugging Face folder in the
 * store (src/worker/parts-writer.ts writes it).
 */
const MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;

/** Which of two .bin files is the tokenizer: the one named like one ('tok512.bin', 'tokenizer.bin'), else the smaller. */
export function splitLlama2cPair(bins: LocalFile[]): { checkpoint: LocalFile; tokenizer: LocalFile } {
  if (bins.length !== 2) {
    const names = bins.map((b) => b.path).join(', ') || 'none';
    throw new ShrinkrayError(
      'missing_file',
      `a llama2.c model needs two .bin files, the checkpoint and its tokenizer (e.g. stories260K.bin + tok512.bin); got: ${names}`,
    );
  }
  const named = bins.filter((b) => /(^|\/)tok[^/]*\.bin$/i.test(b.path));
  const tokenizer = named.length === 1 ? named[0]! : bins[0]!.file.size <= bins[1]!.file.size ? bins[0]! : bins[1]!;
  return { checkpoint: bins.find((b) => b !== tokenizer)!, tokenizer };
}

export async function writeLlama2cModel(writer: ModelWriter, pair: { checkpoint: LocalFile; tokenizer: LocalFile }): Promise<void> {
  const { checkpoint, tokenizer } = pair;
  if (tokenizer.file.size > MAX_TOKENIZER_BYTES) {
    throw new ShrinkrayError('bad_file', `${tokenizer.path}: ${tokenizer.file.size} bytes is too large for a llama2.c tokenizer`);
  }
  const parts = await importLlama2c(blobSource(checkpoint.file, checkpoint.path), {
    bytes: new Uint8Array(await tokenizer.file.arrayBuffer()),
    name: tokenizer.path,
  });
  await writeModelParts(writer, parts);
}
