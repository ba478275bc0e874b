import { beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import {
  DECODER_INITIALIZERS as INIT,
  DECODER_INPUTS,
  DECODER_NODES as NODES,
  LOGITS_OUTPUT,
  nodeName,
  pastName,
  presentName,
} from '../../src/formats/onnx/decoder-names.ts';
import { inspectOnnx } from '../../src/formats/onnx/onnx-reader.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { syntheticConfig, syntheticIR } from '../../src/model/synthetic-ir.ts';
import { layerTensorMap } from '../../src/model/tensor-table.ts';
import { engineModulesNode } from '../../src/node/engine-node.ts';
import { checkGraphFitsConfig } from '../../src/runtime/onnx-graph-check.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';

/**
 * The names in src/formats/onnx/decoder-names.ts are the whole agreement between the builder,
 * the CPU engine and onnxruntime-web's runner. A graph that spells one of them otherwise (an
 * older builder, another tool) must not be run on a guess, nor refused with a vague reason:
 * each case renames one name in a built graph's bytes and expects the refusal to name it.
 */
const config: ModelConfig = syntheticConfig('smollm2-135m', {
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16, // a multiple of 16: the fused graph uses GroupQueryAttention
  intermediateSize: 96,
  vocabSize: 128,
  maxPositionEmbeddings: 64,
});
const last = config.numLayers - 1;
const graphs: Record<'plain' | 'fused', Uint8Array> = { plain: new Uint8Array(), fused: new Uint8Array() };

beforeAll(async () => {
  const ir = syntheticIR(config);
  graphs.plain = (await buildOnnxDecoder(ir, { ops: 'plain' })).model;
  graphs.fused = (await buildOnnxDecoder(ir, { ops: 'fused', storage: 'fp16' })).model;
});

/**
 * `model` with every string field equal to `name` given another name of the same length, so
 * the protobuf stays valid. Strings under 128 bytes are a one-byte length then the bytes.
 */
function renamed(model: Uint8Array, name: string): Uint8Array {
  const field = Buffer.concat([Buffer.from([name.length]), Buffer.from(name)]);
  const other = Buffer.concat([Buffer.from([name.length]), Buffer.from(`${name.slice(0, -1)}#`)]);
  const out = Buffer.from(model);
  let count = 0;
  for (let at = out.indexOf(field); at >= 0; at = out.indexOf(field, at + 1), count++) other.copy(out, at);
  expect(count, `'${name}' in the graph`).toBeGreaterThan(0);
  return new Uint8Array(out);
}

async function engineVerdict(model: Uint8Array): Promise<string> {
  const loader = await CpuModelLoader.create(await engineModulesNode());
  const r = await loader.fromGraph(config, { name: 'renamed/model.onnx', model, externalData: [] });
  if (!('unsupported' in r)) {
    await r.dispose();
    return 'ran';
  }
  return r.unsupported;
}

const t = layerTensorMap(config, last);
const linears = [t.q, t.k, t.v, t.o, t.gate, t.up, t.down].map((e) => nodeName(e.name));

describe('a renamed node or initializer: the CPU engine refuses the graph and names what it looked for', () => {
  it.each([
    ...(
      [
        nodeName(NODES.embed),
        nodeName(NODES.inputNorm(0)),
        nodeName(NODES.inputNorm(last)), // the last layer's: not taken for a graph with a layer fewer
        nodeName(NODES.postAttentionNorm(last)),
        nodeName(NODES.softmax(0)),
        nodeName(NODES.softmax(last)),
        nodeName(NODES.finalNorm),
        nodeName(NODES.tiedClassifier),
        ...linears,
        INIT.ropeCos,
        INIT.ropeSin,
        INIT.attnScale,
        INIT.rmsEps,
      ] as const
    ).map((name) => ['plain', name] as const),
    ...(
      [nodeName(NODES.gqa(0)), nodeName(NODES.gqa(last)), nodeName(NODES.inputNorm(last)), INIT.ropeCosCache, INIT.ropeSinCache] as const
    ).map((name) => ['fused', name] as const),
  ])('%s graph without %s', async (ops, name) => {
    expect(await engineVerdict(graphs[ops])).toBe('ran'); // the graph as built runs
    expect(await engineVerdict(renamed(graphs[ops], name))).toContain(`'${name}'`);
  });
});

describe("a renamed input or output: onnxruntime-web's runner (and the engine's loader before it) refuses, naming it", () => {
  it.each([
    DECODER_INPUTS.inputIds,
    DECODER_INPUTS.attentionMask,
    DECODER_INPUTS.positionIds,
    pastName(last, 'key'),
    presentName(last, 'value'),
    LOGITS_OUTPUT,
  ])('without %s', (name) => {
    const summary = inspectOnnx(renamed(graphs.plain, name), 'renamed/model.onnx');
    checkGraphFitsConfig(inspectOnnx(graphs.plain, 'model.onnx'), config, 'model.onnx'); // the graph as built passes
    const quoted = name.replace(/\./g, '\\.');
    expectShrinkrayError(() => checkGraphFitsConfig(summary, config, 'renamed/model.onnx'), 'bad_file', new RegExp(`\\b${quoted}\\b`));
  });
});
