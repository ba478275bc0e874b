import { describe, expect, it } from 'vitest';
import { bytesSource, type ByteSource } from '../../src/formats/byte-source.ts';
import { mergeShards } from '../../src/formats/safetensors-shards.ts';
import { writeSafetensors, type SafetensorsEntry } from '../../src/formats/safetensors.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

const entry = (name: string, values: number[]): SafetensorsEntry => ({
  name,
  dtype: 'F32',
  shape: [values.length],
  data: Float32Array.from(values),
});

function shardSource(name: string, entries: SafetensorsEntry[]): ByteSource {
  const parts = writeSafetensors(entries);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  return bytesSource(bytes, name);
}

// Two shards of a checkpoint, as model.safetensors.index.json would list them.
const shards = new Map([
  ['a.safetensors', shardSource('a.safetensors', [entry('x', [1, 2]), entry('y', [3])])],
  ['b.safetensors', shardSource('b.safetensors', [entry('z', [4, 5, 6])])],
]);
const open = async (shard: string) => shards.get(shard)!;

describe('mergeShards', () => {
  it('merges the shards in the order given, each tensor with the source that holds it', async () => {
    const merged = await mergeShards(['b.safetensors', 'a.safetensors'], open, {
      name: 'model.safetensors.index.json',
      weightMap: { x: 'a.safetensors', y: 'a.safetensors', z: 'b.safetensors' },
    });
    expect([...merged.tensors.keys()]).toEqual(['z', 'x', 'y']);
    expect(merged.files).toEqual(['b.safetensors', 'a.safetensors']);
    expect(merged.sourceOf.get('y')).toBe(shards.get('a.safetensors'));
    expect(Array.from(await merged.tensors.get('z')!.read())).toEqual([4, 5, 6]);
  });

  it('refuses a tensor two shards hold, naming both', async () => {
    const twice = async (shard: string) => (shard === 'c.safetensors' ? shardSource('c.safetensors', [entry('y', [7])]) : open(shard));
    await expectShrinkrayError(
      mergeShards(['a.safetensors', 'c.safetensors'], twice),
      'bad_file',
      /c\.safetensors: tensor 'y' is also in a\.safetensors/,
    );
  });

  it('refuses an index that places a tensor in a shard that lacks it, naming the shard and the index', async () => {
    await expectShrinkrayError(
      mergeShards(['a.safetensors', 'b.safetensors'], open, {
        name: 'model.safetensors.index.json',
        weightMap: { x: 'a.safetensors', w: 'b.safetensors' },
      }),
      'bad_file',
      /b\.safetensors: lacks tensor 'w' that model\.safetensors\.index\.json places there/,
    );
  });
});
