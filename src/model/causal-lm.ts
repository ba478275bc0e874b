import type { ModelConfig } from './config.ts';

/**
 * What the generate loop and the perplexity evaluator need from a model, whichever engine
 * runs it: the fp32 TypeScript reference (src/model/reference-forward.ts) or an
 * onnxruntime-web session (src/runtime/onnx-causal-lm.ts).
 */
export interface CausalLM {
  readonly config: ModelConfig;
  /** A fresh, empty KV cache. */
  createState(): DecoderState;
  /**
   * Appends `tokens` to the sequence held by `state` (prefill when it is empty, decode
   * otherwise), updates its KV cache, and returns the logits of every new position.
   * Result layout: [tokens.length, vocabSize], row-major.
   */
  forward(state: DecoderState, tokens: readonly number[], signal?: AbortSignal): Promise<Float32Array>;
  /** Frees what the engine holds (sessions, GPU buffers). */
  dispose(): Promise<void>;
}

/** The engine-specific KV cache plus how many positions it already holds. */
export interface DecoderState {
  readonly length: number;
  dispose(): void;
}
