import * as ort from 'onnxruntime-web';
import { ShrinkrayError } from '../errors.ts';
import { DECODER_INPUTS, KV_PARTS, LOGITS_OUTPUT, pastName, presentName } from '../formats/onnx/decoder-names.ts';
import type { ModelConfig } from '../model/config.ts';
import { checkForwardTokens, checkTruncateLength, type CausalLM, type DecoderState } from '../model/causal-lm.ts';
import { checkGraphFitsConfig } from './onnx-graph-check.ts';
import { createOnnxSession, errorText, type ExecutionDevice, type ExternalDataFile, type OnnxSessionOptions } from './onnx-session.ts';

/** Where the graph's config came from, for messages when the two disagree. */
export interface OnnxCausalLMOptions extends OnnxSessionOptions {
  configName?: string;
}

/**
 * A CausalLM on onnxruntime-web, for decoder graphs in the transformers.js convention
 * (input_ids, attention_mask, position_ids, [num_logits_to_keep], past_key_values.N.* ->
 * logits, present.N.*).
 * The KV cache lives in the state between calls; on WebGPU it stays in GPU buffers.
 */
export class OnnxState implements DecoderState {
  length = 0;
  past: Record<string, ort.Tensor> = {}; // past_key_values.N.{key,value}: [1, kvHeads, length, headDim]

  constructor(readonly owner: OnnxCausalLM) {}

  /** Replaces the cache, freeing GPU buffers of the old one. */
  replace(past: Record<string, ort.Tensor>, length: number): void {
    for (const t of Object.values(this.past)) if (t.location === 'gpu-buffer') t.dispose();
    this.past = past;
    this.length = length;
  }

  dispose(): void {
    this.replace({}, 0);
  }
}

export class OnnxCausalLM implements CausalLM {
  private readonly keepsLogits: boolean;

  private constructor(
    readonly config: ModelConfig,
    readonly session: ort.InferenceSession,
    readonly device: ExecutionDevice,
  ) {
    this.keepsLogits = session.inputNames.includes(DECODER_INPUTS.logitsToKeep);
  }

  /** Creates the session, then checks the graph against `config` (layers, KV heads, head size, vocabulary) before any run. */
  static async create(
    config: ModelConfig,
    model: Uint8Array,
    externalData: readonly ExternalDataFile[] = [],
    opts: OnnxCausalLMOptions = {},
  ): Promise<OnnxCausalLM> {
    const presentNames = Array.from({ length: config.numLayers }, (_, l) => KV_PARTS.map((kv) => presentName(l, kv))).flat();
    const { session, device, summary } = await createOnnxSession(model, externalData, { gpuOutputs: presentNames, ...opts });
    try {
      checkGraphFitsConfig(summary, config, opts.fileName ?? 'model.onnx', opts.configName);
    } catch (e) {
      await session.release();
      throw e;
    }
    return new OnnxCausalLM(config, session, device);
  }

  createState(): OnnxState {
    return new OnnxState(this);
  }

  async forward(state: DecoderState, tokens: readonly number[], signal?: AbortSignal): Promise<Float32Array> {
    const s = this.ownState(state);
    checkForwardTokens(this.config, s.length, tokens);
    throwIfAborted(signal);
    const c = this.config;
    const n = tokens.length;
    const total = s.length + n;
    const feeds: Record<string, ort.Tensor> = {
      [DECODER_INPUTS.inputIds]: new ort.Tensor(
        'int64',
        BigInt64Array.from(tokens, (t) => BigInt(t)),
        [1, n],
      ),
      [DECODER_INPUTS.attentionMask]: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      [DECODER_INPUTS.positionIds]: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: n }, (_, i) => BigInt(s.length + i)),
        [1, n],
      ),
    };
    // Graphs we build take num_logits_to_keep (0: logits of every new position); others may not.
    if (this.keepsLogits) feeds[DECODER_INPUTS.logitsToKeep] = new ort.Tensor('int64', new BigInt64Array([0n]), []);
    for (let l = 0; l < c.numLayers; l++) {
      for (const kv of KV_PARTS) {
        const name = pastName(l, kv);
        feeds[name] = s.past[name] ?? new ort.Tensor('float32', new Float32Array(0), [1, c.numKvHeads, 0, c.headDim]);
      }
    }
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(feeds);
    } catch (e) {
      throw new ShrinkrayError('runtime_error', `onnxruntime-web (${this.device}) failed to run the decoder: ${errorText(e)}`, {
        cause: e,
      });
    }
    const past: Record<string, ort.Tensor> = {};
    for (let l = 0; l < c.numLayers; l++) for (const kv of KV_PARTS) past[pastName(l, kv)] = out[presentName(l, kv)]!;
    if (signal?.aborted) {
      // The pass finished but the caller no longer wants it: keep the old cache.
      for (const t of Object.values(past)) if (t.location === 'gpu-buffer') t.dispose();
      throwIfAborted(signal);
    }
    s.replace(past, total);
    const logits = out[LOGITS_OUTPUT]!;
    const data = (logits.location === 'cpu' ? logits.data : await logits.getData(true)) as Float32Array;
    if (!(data instanceof Float32Array) || data.length !== n * c.vocabSize) {
      throw new ShrinkrayError(
        'bad_file',
        `the graph returned ${data.length} logits (dims [${logits.dims.join(', ')}]) for ${n} tokens; ` +
          `a vocabulary of ${c.vocabSize} (config.json vocab_size) needs ${n * c.vocabSize}`,
      );
    }
    return data; // [n, vocab]
  }

  /**
   * Keeps the first `length` positions of every past_key_values tensor ([1, kvHeads, length, headDim]).
   * A cache in GPU buffers is read back once to be cut (onnxruntime-web has no device-side
   * slice), and goes back up as input on the next run.
   */
  async truncate(state: DecoderState, length: number): Promise<void> {
    const s = this.ownState(state);
    checkTruncateLength(s.length, length);
    if (length === s.length) return;
    const past: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(s.past)) past[name] = await sliceSequence(t, length);
    s.replace(past, length);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  private ownState(state: DecoderState): OnnxState {
    if (!(state instanceof OnnxState) || state.owner !== this) {
      throw new ShrinkrayError('bad_argument', 'the decoder state was not created by this ONNX model');
    }
    return state;
  }
}

/** The first `length` positions of a [1, heads, positions, headDim] tensor, as a new CPU tensor. */
async function sliceSequence(t: ort.Tensor, length: number): Promise<ort.Tensor> {
  const [batch, heads, positions, headDim] = t.dims as [number, number, number, number];
  const data = (t.location === 'cpu' ? t.data : await t.getData()) as Float32Array;
  const out = new (data.constructor as Float32ArrayConstructor)(batch * heads * length * headDim);
  for (let h = 0; h < batch * heads; h++) {
    out.set(data.subarray(h * positions * headDim, (h * positions + length) * headDim), h * length * headDim);
  }
  return new ort.Tensor(t.type as 'float32', out, [batch, heads, length, headDim]);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ShrinkrayError('aborted', 'the forward pass was cancelled');
}

/** Browser-friendly entry: the model's bytes (and external data) are already in memory. */
export function createOnnxCausalLM(
  config: ModelConfig,
  modelBytes: Uint8Array,
  externalData: readonly ExternalDataFile[] = [],
  opts: OnnxCausalLMOptions = {},
): Promise<OnnxCausalLM> {
  return OnnxCausalLM.create(config, modelBytes, externalData, opts);
}
