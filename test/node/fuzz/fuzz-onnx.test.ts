import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { bytesSource, type ByteSource } from '../../../src/formats/byte-source.ts';
import { inspectOnnx } from '../../../src/formats/onnx/onnx-reader.ts';
import { parseHfConfig } from '../../../src/model/hf-config.ts';
import { checkGraphFitsConfig } from '../../../src/runtime/onnx-graph-check.ts';
import { openRunnableModel } from '../../../src/runtime/runnable-model.ts';
import { craftDecoderGraph } from '../../crafted-onnx.ts';
import { STORIES_DIR } from '../fixture-paths.ts';
import { fuzz, mutatedBytes } from './fuzz-budget.ts';

/**
 * The ONNX reader and the graph-against-config check, fuzzed: any bytes, random protobuf
 * fields, mutations of a decoder graph, and decoder graphs whose external data entries say
 * anything (location, offset, length, type, shape), opened the way the runtime opens a
 * model folder. Each ends in a summary, a runnable graph, or a ShrinkrayError within
 * FUZZ_BUDGET; external data is read only when its ranges lie inside its file.
 */
const configJson = JSON.parse(readFileSync(join(STORIES_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
const config = parseHfConfig(configJson, 'config.json');
const valid = craftDecoderGraph(config, {
  initializers: [{ name: 'w', dims: [4, 4], external: { location: 'model.onnx_data', offset: '0', length: '64' } }],
});

/** A protobuf-shaped byte string: random keys (field, wire type) with values of the right kind, nested one level. */
const field = fc
  .tuple(fc.integer({ min: 0, max: 20 }), fc.constantFrom(0, 1, 2, 3, 5, 7), fc.uint8Array({ maxLength: 24 }))
  .map(([f, wire, body]) => {
    const key = f * 8 + wire;
    const len = wire === 2 ? [body.byteLength] : [];
    return new Uint8Array([key, ...len, ...(wire === 0 ? [body[0] ?? 0] : body)]);
  });
const protobufish = fc.array(field, { maxLength: 12 }).map((parts) => {
  const out: number[] = [];
  for (const p of parts) out.push(...p);
  return new Uint8Array(out);
});

function check(bytes: Uint8Array): void {
  const summary = inspectOnnx(bytes, 'fuzz.onnx');
  checkGraphFitsConfig(summary, config, 'fuzz.onnx');
}

describe('ONNX reader, fuzzed', () => {
  it('any bytes', async () => {
    await fuzz(fc.uint8Array({ maxLength: 512 }), 3000, check, { expectBoth: false });
  });

  it('random protobuf fields, alone and inside the graph field', async () => {
    const input = fc.oneof(
      protobufish,
      protobufish.map((g) => new Uint8Array([0x08, 0x08, 0x3a, g.byteLength & 0x7f, ...g.subarray(0, 127)])),
    );
    await fuzz(input, 3000, check, { expectBoth: false });
  });

  it('mutations of a decoder graph', async () => {
    await fuzz(mutatedBytes(valid, 4), 3000, check, { examples: [valid] });
  });

  it('external data entries saying anything, opened as the runtime opens a folder', async () => {
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('model.onnx_data', '../x', '/dev/zero', '..', '.', 'a/b', ''));
    const number = fc.oneof(
      fc.nat({ max: 200 }).map(String),
      fc.constantFrom('-1', '1e3', '0x10', '99999999999999999', '18446744073709551615', ''),
      fc.string({ maxLength: 4 }),
    );
    const initializer = fc.record({
      name: fc.string({ maxLength: 6 }),
      dims: fc.array(fc.oneof(fc.nat({ max: 8 }), fc.constantFrom(2 ** 40, 2 ** 53)), { maxLength: 3 }),
      dataType: fc.oneof(fc.constantFrom(1, 2, 7, 10, 16, 22), fc.nat({ max: 30 })),
      external: fc.record({ location: text, offset: fc.option(number, { nil: undefined }), length: fc.option(number, { nil: undefined }) }),
    });
    const graph = fc.record({ initializers: fc.array(initializer, { maxLength: 3 }), dataBytes: fc.nat({ max: 300 }) });
    const files = (g: Uint8Array, dataBytes: number) =>
      new Map<string, Uint8Array>([
        ['config.json', new TextEncoder().encode(JSON.stringify(configJson))],
        ['onnx/model.onnx', g],
        ['onnx/model.onnx_data', new Uint8Array(dataBytes).fill(1)],
      ]);
    await fuzz(
      graph,
      2000,
      async ({ initializers, dataBytes }) => {
        const folder = files(craftDecoderGraph(config, { initializers }), dataBytes);
        let read = 0;
        const open = async (path: string): Promise<ByteSource | undefined> => {
          const bytes = folder.get(path);
          if (!bytes) return undefined;
          const src = bytesSource(bytes, path);
          if (!path.startsWith('onnx/')) return src;
          return { ...src, read: (offset, length) => ((read += length), src.read(offset, length)) };
        };
        await openRunnableModel(open, { where: 'fuzz', tokenizer: false });
        // Read at most the graph and the data file once each: ranges are merged, never read twice.
        if (read > folder.get('onnx/model.onnx')!.byteLength + dataBytes) throw new Error(`read ${read} bytes`);
      },
      {
        examples: [
          {
            initializers: [{ name: 'w', dims: [4, 4], dataType: 1, external: { location: 'model.onnx_data', offset: '0', length: '64' } }],
            dataBytes: 64,
          },
        ],
      },
    );
  });
});
