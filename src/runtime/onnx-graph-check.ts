import { ShrinkrayError } from '../errors.ts';
import {
  KV_PARTS,
  LOGITS_OUTPUT,
  PAST_PATTERN as PAST,
  pastName,
  PRESENT_PATTERN as PRESENT,
  presentName,
  REQUIRED_DECODER_INPUTS,
} from '../formats/onnx/decoder-names.ts';
import type { OnnxDim, OnnxSummary, OnnxValueInfo } from '../formats/onnx/onnx-reader.ts';
import { quoted } from '../formats/printable.ts';
import type { ModelConfig } from '../model/config.ts';

/**
 * A decoder graph (transformers.js convention) against the config.json beside it, before a
 * session is made: the decoder inputs and the logits output exist, the graph has exactly
 * the config's layers (past_key_values.N.* in, present.N.* out), and where the graph states
 * a dimension it agrees with the config (KV heads, head size, vocabulary). A graph and a
 * config that disagree would otherwise generate garbage, or score NaN, without a word.
 * Symbolic dimensions ('batch_size') are not checked.
 */
export function checkGraphFitsConfig(summary: OnnxSummary, config: ModelConfig, graphName: string, configName = 'config.json'): void {
  const bad = (why: string) => new ShrinkrayError('bad_file', `${graphName} does not match ${configName}: ${why}`);
  const missing = [
    ...REQUIRED_DECODER_INPUTS.filter((n) => !summary.inputs.includes(n)),
    ...(summary.outputs.includes(LOGITS_OUTPUT) ? [] : [LOGITS_OUTPUT]),
  ];
  if (missing.length > 0)
    throw new ShrinkrayError('bad_file', `${graphName} is not a decoder with KV cache: missing ${missing.join(', ')}`);

  const layersOf = (infos: OnnxValueInfo[], pattern: RegExp) => {
    const layers = new Set<number>();
    for (const v of infos) {
      const m = pattern.exec(v.name);
      if (m) layers.add(Number(m[1]));
    }
    return layers;
  };
  const past = layersOf(summary.inputInfo, PAST);
  const present = layersOf(summary.outputInfo, PRESENT);
  const L = config.numLayers;
  if (past.size !== L || present.size !== L) {
    throw bad(
      `the graph has ${past.size} layers of KV cache inputs (past_key_values.N.*) and ${present.size} of outputs (present.N.*), ` +
        `but num_hidden_layers is ${L}`,
    );
  }
  for (let l = 0; l < L; l++) {
    for (const kv of KV_PARTS) {
      if (!summary.inputs.includes(pastName(l, kv))) throw bad(`input ${pastName(l, kv)} is missing (num_hidden_layers is ${L})`);
      if (!summary.outputs.includes(presentName(l, kv))) throw bad(`output ${presentName(l, kv)} is missing (num_hidden_layers is ${L})`);
    }
  }
  // [batch, kv heads, sequence, head size] for every cache tensor; [batch, sequence, vocabulary] for the logits.
  for (const v of [...summary.inputInfo, ...summary.outputInfo]) {
    if (PAST.test(v.name) || PRESENT.test(v.name)) {
      expectDim(v, 1, config.numKvHeads, 'num_key_value_heads', bad);
      expectDim(v, 3, config.headDim, 'the head size (head_dim, or hidden_size / num_attention_heads)', bad);
    } else if (v.name === LOGITS_OUTPUT) {
      expectDim(v, 2, config.vocabSize, 'vocab_size', bad);
    }
  }
}

function expectDim(v: OnnxValueInfo, axis: number, expected: number, field: string, bad: (why: string) => ShrinkrayError): void {
  if (v.dims === null) return;
  const dim: OnnxDim | undefined = v.dims[axis];
  if (typeof dim === 'number' && dim !== expected) {
    throw bad(`${quoted(v.name, 60)} has ${dim} along axis ${axis} but ${field} is ${expected} (shape [${v.dims.join(', ')}])`);
  }
}
