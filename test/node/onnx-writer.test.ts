import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/formats/onnx/graph-builder.ts';
import { attr, OnnxDataType } from '../../src/formats/onnx/onnx-proto.ts';
import { inspectOnnx } from '../../src/formats/onnx/onnx-reader.ts';
import { ProtoWriter } from '../../src/formats/onnx/protobuf-writer.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('protobuf wire format', () => {
  it('encodes varints, negative int64, floats, strings and packed fields as protobuf does', () => {
    // Values from the protobuf encoding guide: 150 -> 96 01; field 1 varint tag = 08.
    expect(hex(new ProtoWriter().int(1, 150).finish())).toBe('089601');
    expect(hex(new ProtoWriter().int(1, 1).finish())).toBe('0801');
    expect(hex(new ProtoWriter().int(2, 2 ** 35).finish())).toBe('10808080808001');
    // Negative int64 takes ten bytes (two's complement, 64-bit).
    expect(hex(new ProtoWriter().int(3, -1).finish())).toBe('18ffffffffffffffffff01');
    expect(hex(new ProtoWriter().float(2, 1.5).finish())).toBe('150000c03f');
    expect(hex(new ProtoWriter().string(2, 'testing').finish())).toBe('120774657374696e67');
    expect(hex(new ProtoWriter().packedInts(4, [3, 270, 86942]).finish())).toBe('2206038e029ea705');
  });

  it('keeps large payloads by reference and nests messages with correct lengths', () => {
    const big = new Uint8Array(1000).fill(7);
    const inner = new ProtoWriter().bytes(9, big).int(2, 1);
    const outer = new ProtoWriter().message(5, inner);
    const chunks = outer.chunks();
    expect(chunks.some((c) => c === big)).toBe(true); // no copy until finish()
    const bytes = outer.finish();
    expect(bytes.byteLength).toBe(1 + 2 + (1 + 2 + 1000 + 2));
    expect(hex(bytes.subarray(0, 3))).toBe('2aed07'); // field 5, LEN 1005
  });
});

/** y = ReduceSum((x + w) @ big, axis 1): small enough to check by hand. */
function tinyGraph(): GraphBuilder {
  const g = new GraphBuilder();
  g.addInput('x', OnnxDataType.FLOAT, ['batch', 4]);
  const w = g.float32('w', new Float32Array([0.5, -1, 2, 0]), [4]);
  const big = g.float32(
    'big',
    Float32Array.from({ length: 4 * 256 }, (_, i) => (i % 7) - 3),
    [4, 256],
  );
  const y = g.op('MatMul', [g.op('Add', ['x', w]), big]);
  g.op('ReduceSum', [y, g.int64('axes', [1])], { attrs: { keepdims: attr.int(0) }, output: 'out' });
  g.addOutput('out', OnnxDataType.FLOAT, ['batch']);
  return g;
}

function expected(x: number[][]): number[] {
  const w = [0.5, -1, 2, 0];
  return x.map((row) => {
    let s = 0;
    for (let j = 0; j < 256; j++) for (let i = 0; i < 4; i++) s += (row[i]! + w[i]!) * (((i * 256 + j) % 7) - 3);
    return s;
  });
}

async function run(model: Uint8Array, externalData?: { path: string; data: Uint8Array }[]): Promise<number[]> {
  const session = await ort.InferenceSession.create(model, { externalData });
  const x = new ort.Tensor('float32', new Float32Array([1, 2, 3, 4, 0, 0, 0, -1]), [2, 4]);
  const out = await session.run({ x });
  await session.release();
  return [...(out.out!.data as Float32Array)];
}

describe('graph builder', () => {
  it('builds a model onnxruntime-web runs, inline or with external data', async () => {
    const want = expected([
      [1, 2, 3, 4],
      [0, 0, 0, -1],
    ]);
    const inline = tinyGraph().build({ opsets: [{ domain: '', version: 17 }] });
    expect(inline.externalData).toBeNull();
    expect(await run(inline.model)).toEqual(want);

    const ext = tinyGraph().build({ opsets: [{ domain: '', version: 17 }], externalDataThreshold: 0 });
    expect(ext.externalData).not.toBeNull();
    expect(ext.model.byteLength).toBeLessThan(1024); // the 4 KiB matrix left the .onnx
    const data = Buffer.concat(ext.externalData!.chunks);
    expect(data.byteLength).toBe(ext.externalData!.byteLength);
    expect(await run(ext.model, [{ path: 'model.onnx_data', data }])).toEqual(want);

    const summary = inspectOnnx(ext.model, 'tiny.onnx');
    expect(summary.irVersion).toBe(8);
    expect(summary.inputs).toEqual(['x']);
    expect(summary.outputs).toEqual(['out']);
    expect(summary.externalFiles.get('model.onnx_data')).toBe(data.byteLength);
  });

  it('rejects initializers whose bytes do not match their shape, and duplicate names', () => {
    const g = new GraphBuilder();
    expect(() => g.addInitializer('t', OnnxDataType.FLOAT, [2, 3], new Uint8Array(20))).toThrow(
      /'t' of shape \[2, 3\] needs 24 bytes, got 20/,
    );
    g.addInput('x', OnnxDataType.FLOAT, [1]);
    expect(() => g.addInput('x', OnnxDataType.FLOAT, [1])).toThrow(/'x' is defined twice/);
    expect(g.uniqueName('x')).toBe('x_1');
    expect(g.int64('a', [1, 2])).toBe(g.int64('b', [1, 2])); // equal constants are shared
  });

  it('names the file when the reader meets a truncated or corrupt model', () => {
    const { model } = tinyGraph().build({ opsets: [{ domain: '', version: 17 }] });
    const fail = (bytes: Uint8Array) => expectShrinkrayError(() => inspectOnnx(bytes, 'dir/model.onnx'), 'bad_file').message;
    expect(fail(model.subarray(0, model.byteLength - 10))).toMatch(/dir\/model\.onnx .*truncated/);
    expect(fail(new Uint8Array(0))).toMatch(/dir\/model\.onnx .*empty/);
    expect(fail(new TextEncoder().encode('<html>not a model</html>'))).toMatch(/dir\/model\.onnx is not a valid ONNX model/);
  });
});
