import { ShrinkrayError } from '../errors.ts';
import { isSharedBuffer } from '../kernels/wasm-instance.ts';
import { readOnnxGraphView } from '../formats/onnx/onnx-graph.ts';
import type { ModelConfig } from '../model/config.ts';
import type { ModelIR } from '../model/ir.ts';
import { CpuCausalLM } from './cpu-causal-lm.ts';
import { instantiateEngine, type EngineExports, type EngineModules } from './engine-module.ts';
import { graphWeights, Unsupported } from './graph-weights.ts';
import { EngineHeap } from './heap.ts';
import { irWeights, newIrWeightsInfo } from './ir-weights.ts';
import type { EngineModelWeights } from './model-weights.ts';
import { browserThreadSpawner, TaskRunner, type EngineThreadSpawner } from './thread-pool.ts';

export interface CpuLoadOptions {
  /** Threads per model, this one included (default 1); more need shared memory and a spawner. */
  threads?: number;
  /** Starts helper threads (default: the browser's Worker; Node passes worker_threads, src/node/engine-node.ts). */
  spawner?: EngineThreadSpawner | null;
  /** Positions per forward chunk (scratch size); default 32. */
  chunkTokens?: number;
}

/** A graph file and its external data, as openRunnableModel returns them. */
export interface GraphFiles {
  name: string;
  model: Uint8Array;
  externalData: readonly { path: string; data: Uint8Array }[];
}

/** The model was not one the engine runs; `reason` says what (for the load result). */
export interface CpuUnsupported {
  unsupported: string;
}

// wasm32's whole address space: a model plus its caches must fit in it.
const MAX_HEAP = 65536 * 65536;

/** A heap and the kernels instantiated on it (shared memory when asked for and possible). */
export async function createEngineInstance(
  modules: EngineModules,
  shared: boolean,
): Promise<{ heap: EngineHeap; exports: EngineExports; module: WebAssembly.Module }> {
  const module = shared && modules.shared ? modules.shared : modules.single;
  // The module's own data (its math tables) sits below heapBase; a throwaway instance tells where that ends.
  const probe = await instantiateEngine(modules.single, new WebAssembly.Memory({ initial: 1, maximum: 1 }));
  const heap = EngineHeap.create(probe.heapBase(), module === modules.shared, MAX_HEAP);
  return { heap, exports: await instantiateEngine(module, heap.memory), module };
}

/**
 * A heap waiting for a model. The loader hands out heap blocks for the files to be read
 * into (openRunnableModel's `allocate`), so the stored bytes land in the engine's memory
 * once and are multiplied where they lie; then it builds the model from them.
 */
export class CpuModelLoader {
  private readonly placed = new WeakMap<Uint8Array, { at: number; length: number }>();
  private used = false;

  private constructor(
    private readonly modules: EngineModules,
    private readonly heap: EngineHeap,
    private readonly exports: EngineExports,
    private readonly module: WebAssembly.Module,
    private readonly opts: CpuLoadOptions,
  ) {}

  static async create(modules: EngineModules, opts: CpuLoadOptions = {}): Promise<CpuModelLoader> {
    const threads = Math.max(1, Math.floor(opts.threads ?? 1));
    const e = await createEngineInstance(modules, threads > 1);
    return new CpuModelLoader(modules, e.heap, e.exports, e.module, {
      ...opts,
      threads: isSharedBuffer(e.heap.memory.buffer) ? threads : 1,
    });
  }

  /** A zeroed block of the heap to read `bytes` of a file into (valid until the next allocation grows the heap). */
  allocate = (bytes: number, what = 'a model file'): Uint8Array => {
    const at = this.heap.alloc(bytes, what);
    const view = new Uint8Array(this.heap.memory.buffer, at, bytes);
    this.placed.set(view, { at, length: bytes });
    return view;
  };

  /** The model in a stored ONNX graph, or why the engine does not run it (the heap is then freed). */
  async fromGraph(config: ModelConfig, files: GraphFiles): Promise<CpuCausalLM | CpuUnsupported> {
    const model = this.place(files.model, files.name);
    const external = new Map(files.externalData.map((f) => [f.path, this.place(f.data, f.path)]));
    let weights: EngineModelWeights;
    try {
      const graph = readOnnxGraphView(this.heap.u8.subarray(model.at, model.at + model.length), files.name);
      weights = graphWeights(this.heap, { graph, name: files.name, at: model.at, external, memory: () => this.heap.memory.buffer }, config);
    } catch (e) {
      if (e instanceof Unsupported) return { unsupported: e.message };
      throw e;
    }
    return this.finish(config, weights);
  }

  /** An imported model's weights (safetensors, through the IR's handles): f32 rows, or fp16 for 16-bit sources. */
  async fromIR(ir: ModelIR): Promise<CpuCausalLM> {
    const info = newIrWeightsInfo();
    const lm = await this.finish(ir.config, await irWeights(this.heap, ir, info));
    lm.info.weights = info;
    return lm;
  }

  /**
   * Copies of the graph files for onnxruntime-web after an Unsupported (the heap's views are
   * gone with it), then the heap is dropped.
   */
  copyOut(files: GraphFiles): GraphFiles {
    const copy = (d: Uint8Array) => {
      const p = this.placed.get(d);
      return p ? this.heap.u8.slice(p.at, p.at + p.length) : d;
    };
    return {
      name: files.name,
      model: copy(files.model),
      externalData: files.externalData.map((f) => ({ path: f.path, data: copy(f.data) })),
    };
  }

  private place(data: Uint8Array, what: string): { at: number; length: number } {
    const known = this.placed.get(data);
    if (known) return known;
    const at = this.heap.alloc(data.byteLength, what);
    this.heap.u8.set(data, at);
    return { at, length: data.byteLength };
  }

  private async finish(config: ModelConfig, weights: EngineModelWeights): Promise<CpuCausalLM> {
    if (this.used) throw new ShrinkrayError('bad_argument', 'a CpuModelLoader builds one model');
    this.used = true;
    const threads = this.opts.threads ?? 1;
    const spawner = this.opts.spawner === undefined ? browserThreadSpawner() : this.opts.spawner;
    const runner = await TaskRunner.create(this.exports, this.heap, this.module, threads, spawner);
    return new CpuCausalLM(
      config,
      this.heap,
      this.exports,
      runner,
      weights,
      this.modules.simd,
      this.opts.chunkTokens ?? 32,
      () => undefined,
    );
  }
}
