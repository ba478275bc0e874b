import { ShrinkrayError } from '../errors.ts';
import { checkForwardTokens, checkTruncateLength, type CausalLM, type DecoderState } from '../model/causal-lm.ts';
import type { ModelConfig } from '../model/config.ts';
import { allocateActivations, type Activations } from './activations.ts';
import type { EngineExports } from './engine-module.ts';
import { classify, forwardChunk, type PreparedModel } from './forward-pass.ts';
import type { PreparedWeight, StepContext } from './gemm-step.ts';
import type { EngineHeap } from './heap.ts';
import type { IrWeightsInfo } from './ir-weights.ts';
import { CpuState } from './kv-cache.ts';
import { blockWeights, type EngineLinear, type EngineModelWeights } from './model-weights.ts';
import type { TaskRunner } from './thread-pool.ts';
import { weightBytes, writeDescriptor, type EngineWeight } from './weight-layout.ts';

/** What the engine runs a model with, for load results and benchmarks. */
export interface CpuEngineInfo {
  simd: 'relaxed' | 'plain';
  threads: number;
  /** Bytes of weights one decode step reads (the classifier whole, one embedding row). */
  bytesPerToken: number;
  /** The heap's size now: stored model bytes, scratch and KV caches. */
  heapBytes(): number;
  /** An imported model's matrices as held (fp16 for bf16/fp16 sources; ir-weights.ts); absent for a stored graph. */
  weights?: IrWeightsInfo;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ShrinkrayError('aborted', 'the forward pass was cancelled');
}

/**
 * The CPU engine's CausalLM: the model's stored bytes in a wasm heap, multiplied where they
 * lie by the WASM SIMD kernels, with a KV cache per state. Calls longer than the scratch
 * (acts.tokens positions) run in chunks through the cache.
 */
export class CpuCausalLM implements CausalLM {
  private readonly ctx: StepContext;
  private readonly model: PreparedModel;
  private disposed = false;
  readonly info: CpuEngineInfo;

  constructor(
    readonly config: ModelConfig,
    private readonly heap: EngineHeap,
    exports: EngineExports,
    private readonly runner: TaskRunner,
    weights: EngineModelWeights,
    simd: 'relaxed' | 'plain',
    chunkTokens: number,
    private readonly onDispose: () => void,
  ) {
    const prepOne = (w: EngineWeight): PreparedWeight => ({ ref: w, desc: writeDescriptor(heap, w) });
    const prep = (w: EngineLinear): PreparedWeight => (w.kind === 'lowrank' ? { ...prepOne(w.b), first: prepOne(w.a) } : prepOne(w));
    this.model = {
      embedding: weights.embedding,
      finalNorm: weights.finalNorm,
      classifier: prep(weights.classifier),
      layers: weights.layers.map((l) => ({
        attnNorm: l.attnNorm,
        ffnNorm: l.ffnNorm,
        qNorm: l.qNorm,
        kNorm: l.kNorm,
        attnPostNorm: l.attnPostNorm,
        ffnPostNorm: l.ffnPostNorm,
        qkv: [prep(l.q), prep(l.k), prep(l.v)],
        o: prep(l.o),
        gateUp: [prep(l.gate), prep(l.up)],
        down: prep(l.down),
      })),
    };
    const acts: Activations = allocateActivations(heap, config, weights, chunkTokens, runner.maxParts, exports.actBytes());
    this.ctx = { exports, runner, acts };
    const all = [...blockWeights(weights), weights.classifier];
    const embRow = weights.embedding.kind === 'dense' ? config.hiddenSize * (weights.embedding.dtype === 'f16' ? 2 : 4) : config.hiddenSize;
    this.info = {
      simd,
      threads: runner.threads,
      bytesPerToken: all.reduce((s, w) => s + weightBytes(w), 0) + embRow,
      heapBytes: () => heap.byteLength,
    };
  }

  createState(): CpuState {
    this.live();
    return new CpuState(this, this.heap, this.config);
  }

  async forward(state: DecoderState, tokens: readonly number[], signal?: AbortSignal): Promise<Float32Array> {
    this.live();
    const s = this.ownState(state);
    checkForwardTokens(this.config, s.length, tokens);
    throwIfAborted(signal);
    const c = this.config;
    const start = s.length;
    s.reserve(start + tokens.length);
    const out = new Float32Array(tokens.length * c.vocabSize);
    const step = this.ctx.acts.tokens;
    for (let at = 0; at < tokens.length; at += step) {
      const ids = tokens.slice(at, at + step);
      // Positions past s.length are written but not counted until the whole call is done,
      // so a cancelled call leaves the cache as it was.
      forwardChunk(this.ctx, c, this.model, s, ids, start + at, start + tokens.length, () => throwIfAborted(signal));
      const rows = this.ctx.acts.logitRows;
      for (let r = 0; r < ids.length; r += rows) {
        const n = Math.min(rows, ids.length - r);
        classify(this.ctx, c, this.model, r, n);
        const from = this.ctx.acts.logits >>> 2;
        out.set(this.heap.f32.subarray(from, from + n * c.vocabSize), (at + r) * c.vocabSize);
      }
      if (at + step < tokens.length) await Promise.resolve(); // let a cancel arrive between chunks
    }
    s.length = start + tokens.length;
    return out;
  }

  /** The cache's rows past `length` stay in the heap but are never read: the next forward call writes over them (forwardChunk stores at state.length). */
  async truncate(state: DecoderState, length: number): Promise<void> {
    this.live();
    const s = this.ownState(state);
    checkTruncateLength(s.length, length);
    s.length = length;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.runner.dispose();
    this.onDispose();
  }

  private live(): void {
    if (this.disposed) throw new ShrinkrayError('bad_argument', 'this CPU engine model was disposed');
  }

  private ownState(state: DecoderState): CpuState {
    if (!(state instanceof CpuState) || state.owner !== this) {
      throw new ShrinkrayError('bad_argument', 'the decoder state was not created by this CPU engine model');
    }
    return state;
  }
}
