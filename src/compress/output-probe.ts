import { ShrinkrayError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import type { ModelIR } from '../model/ir.ts';
import { rmsNorm, type RopeTable } from '../model/reference-ops.ts';
import type { LayerWeights } from '../model/reference-weights.ts';
import { modelTensor, type LinearKind } from '../model/tensor-table.ts';
import type { CalibBackend } from './calib-backend.ts';
import { BlockRunner } from './block-runner.ts';
import { readLayer } from './calibrated-model.ts';

/**
 * What one changed matrix does to the model's output: the float model runs the probe
 * windows once, keeping the residual stream entering every block and its final
 * log-probabilities; then `damage` runs the blocks from the changed one to the end, with that
 * one matrix replaced, and returns the mean KL(float ‖ changed) per token of the next-token
 * distributions. It carries errors through softmax, SwiGLU and the later blocks, which a
 * layer's own output error does not see. Memory: the probe windows' [T, dim] stream per block
 * and their [T, vocab] log-probabilities; float blocks are kept while they fit in
 * PROBE_CACHE_BYTES, read again otherwise.
 */
export const PROBE_CACHE_BYTES = 64 * 2 ** 20;

export class OutputProbe {
  private readonly entering: Float32Array[][] = []; // [layer][window] the float stream entering each block
  private logProbs: Float32Array[] = []; // [window] [T, vocab] of the float model
  private readonly cache = new Map<number, LayerWeights>();
  private cached = 0;
  private head: { norm: Float32Array; classifier: Float32Array } | null = null;

  constructor(
    private readonly ir: ModelIR,
    private readonly backend: CalibBackend,
    private readonly rope: (layer: number) => RopeTable | null, // layerRopeTables
  ) {}

  get config(): ModelConfig {
    return this.ir.config;
  }

  /** Records the float stream entering block `layer` (called in block order, then `finish` with the last block's output). */
  record(layer: number, x: Float32Array[]): void {
    if (layer !== this.entering.length) throw new ShrinkrayError('bad_argument', `output probe: block ${layer} recorded out of order`);
    this.entering.push(x.map((a) => Float32Array.from(a)));
  }

  async finish(out: Float32Array[]): Promise<void> {
    this.logProbs = await Promise.all(out.map((x) => this.logSoftmaxOut(x)));
  }

  /** Mean KL(float ‖ changed) per token with block `layer`'s `key` matrix replaced by `values`. */
  async damage(layer: number, key: LinearKind, values: Float32Array): Promise<number> {
    const c = this.config;
    let x: Float32Array[] = this.entering[layer]!.map((a) => Float32Array.from(a));
    for (let l = layer; l < c.numLayers; l++) {
      const float = await this.layer(l);
      const w = l === layer ? { ...float, [key]: values } : float;
      const runner = new BlockRunner(this.backend, c, w, x, this.rope(l), undefined, l);
      await runner.pass('out');
      x = runner.x;
    }
    let kl = 0;
    let tokens = 0;
    for (let i = 0; i < x.length; i++) {
      const q = await this.logSoftmaxOut(x[i]!);
      const p = this.logProbs[i]!;
      for (let j = 0; j < p.length; j++) kl += Math.exp(p[j]!) * (p[j]! - q[j]!);
      tokens += x[i]!.length / c.hiddenSize;
    }
    return Math.max(kl / Math.max(tokens, 1), 0);
  }

  private async layer(l: number): Promise<LayerWeights> {
    const hit = this.cache.get(l);
    if (hit) return hit;
    const w = await readLayer(this.ir, l);
    const bytes = Object.values(w).reduce((n, t) => n + (t ? t.byteLength : 0), 0);
    if (this.cached + bytes <= PROBE_CACHE_BYTES) {
      this.cache.set(l, w);
      this.cached += bytes;
    }
    return w;
  }

  /** Final norm, classifier, log-softmax: [T, dim] -> [T, vocab]. */
  private async logSoftmaxOut(x: Float32Array): Promise<Float32Array> {
    const c = this.config;
    this.head ??= {
      norm: await this.read(modelTensor(c, 'finalNorm').name),
      classifier: await this.read(modelTensor(c, c.tieWordEmbeddings ? 'embedding' : 'classifier').name),
    };
    const T = x.length / c.hiddenSize;
    const logits = await this.backend.linear(
      rmsNorm(x, this.head.norm, T, c.hiddenSize, c.rmsNormEps),
      T,
      this.head.classifier,
      c.vocabSize,
      c.hiddenSize,
      null,
    );
    const V = c.vocabSize;
    for (let t = 0; t < T; t++) {
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]!);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[t * V + v]! - max);
      const lse = max + Math.log(sum);
      for (let v = 0; v < V; v++) logits[t * V + v] = logits[t * V + v]! - lse;
    }
    return logits;
  }

  private async read(name: string): Promise<Float32Array> {
    const h = this.ir.tensors.get(name);
    if (!h) throw new ShrinkrayError('bad_file', `model has no tensor '${name}'`);
    return h.read();
  }
}
