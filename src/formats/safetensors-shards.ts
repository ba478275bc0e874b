import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from './byte-source.ts';
import { quoted } from './printable.ts';
import { readSafetensors, type SafetensorsTensor } from './safetensors.ts';

/**
 * A checkpoint split over several safetensors files, as one set of tensors: each shard's
 * header is read in turn (no tensor data moves), and every tensor keeps the source that
 * holds it. The one shard merge: a model folder or the store (model/hf-model.ts) and a
 * hub repo over HTTP before anything is downloaded (fetch/hub-model-files.ts) both use it.
 */
export interface MergedShards {
  /** Every tensor, shard by shard in the order given, each shard's in header order. */
  tensors: Map<string, SafetensorsTensor>;
  /** Tensor name -> the source of the shard that holds it. */
  sourceOf: Map<string, ByteSource>;
  /** The shards read, as their sources name them. */
  files: string[];
}

/** What model.safetensors.index.json says: which shard holds each tensor. */
export interface ShardIndex {
  name: string; // for errors
  weightMap: Readonly<Record<string, unknown>>;
}

/**
 * Reads the shards' headers. Throws 'bad_file' naming both files for a tensor two shards hold
 * (which one would be meant?), and naming the shard for a tensor the index places there but
 * the shard lacks (the index and the files disagree).
 */
export async function mergeShards(
  shards: readonly string[],
  open: (shard: string) => Promise<ByteSource>,
  index?: ShardIndex,
): Promise<MergedShards> {
  const merged: MergedShards = { tensors: new Map(), sourceOf: new Map(), files: [] };
  const placed = Object.entries(index?.weightMap ?? {});
  for (const shard of shards) {
    const src = await open(shard);
    const st = await readSafetensors(src);
    merged.files.push(src.name);
    for (const [name, t] of st.tensors) {
      const other = merged.sourceOf.get(name);
      if (other) throw new ShrinkrayError('bad_file', `${src.name}: tensor ${quoted(name)} is also in ${other.name}; which one is meant?`);
      merged.tensors.set(name, t);
      merged.sourceOf.set(name, src);
    }
    for (const [name, s] of placed) {
      if (s === shard && !st.tensors.has(name))
        throw new ShrinkrayError('bad_file', `${src.name}: lacks tensor ${quoted(name)} that ${index!.name} places there`);
    }
  }
  return merged;
}
