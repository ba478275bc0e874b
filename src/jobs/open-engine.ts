import type { CpuCausalLM } from '../engine/cpu-causal-lm.ts';
import { CpuModelLoader, type GraphFiles } from '../engine/cpu-model-loader.ts';
import type { EngineModules } from '../engine/engine-module.ts';
import type { EngineThreadSpawner } from '../engine/thread-pool.ts';
import { ShrinkrayError } from '../errors.ts';
import type { DisplayName, OpenModelFile } from '../formats/byte-source.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import type { ModelIR } from '../model/ir.ts';
import { ReferenceModel } from '../model/reference-forward.ts';
import { pickDevice, type ExecutionDevice } from '../runtime/execution-device.ts';
import { openRunnableModel, type OnnxGraph, type OpenRunnableOptions, type RunnableModel } from '../runtime/runnable-model.ts';

/**
 * The job "open a model on an engine", written once for the CLI and the chat worker: our CPU
 * engine (WASM SIMD, reading the stored bytes where they lie), onnxruntime-web (the stored graph,
 * or one built from an imported model's weights), or the fp32 TypeScript reference. A graph the
 * CPU engine does not run falls back to onnxruntime-web's wasm EP, and the result says why. The
 * host (node/engine-node.ts, engine/browser-engine.ts) gives the engine's modules, threads and tokenizer.
 */

/** Which engine runs a model: 'auto' is the CPU engine unless the device resolves to WebGPU; 'reference' runs imported models only. */
export type EngineChoice = 'auto' | 'cpu' | 'onnx' | 'reference';

/** What runs an opened model. */
export type EngineKind = Exclude<EngineChoice, 'auto'>;

/** What differs between the page and Node. */
export interface EngineHost {
  /** The CPU engine's compiled modules: fetched with the app in a browser, read from disk in Node. */
  engineModules(): Promise<EngineModules>;
  /** Starts the engine's helper threads (default: the browser's Worker; Node: worker_threads). */
  spawner?: EngineThreadSpawner;
  /** The CPU engine's threads when the caller names none. */
  defaultThreads(): number;
  /** onnxruntime-web runs on the caller's thread count too (the page); else on its own default (Node: one thread). */
  onnxThreads: boolean;
  /**
   * onnxruntime-web's graph for an imported model: 'checkpoint' keeps a bf16/fp16 checkpoint 16-bit
   * (the page: its fp32 graph would be 4.4 GB for 1B parameters), 'fp32' always (the CLI's accuracy baseline).
   */
  weightsGraph: 'checkpoint' | 'fp32';
  /** Builds the tokenizer (default: on this thread; Node guards it on a worker thread). */
  makeTokenizer?: OpenRunnableOptions['makeTokenizer'];
}

export interface OpenEngineOptions {
  engine?: EngineChoice;
  /** Where onnxruntime-web runs: 'auto' picks WebGPU on a real GPU adapter, else wasm. */
  device?: 'auto' | ExecutionDevice;
  /** CPU engine threads (default: the host's). */
  threads?: number;
  /** How messages name the model, e.g. its folder or store id, and its files. */
  where: string;
  display?: DisplayName;
  /** How onnxruntime-web names the stored graph and config.json in its messages (default: as `display` does). */
  sessionName?: (name: string) => string;
  /** Bytes of the graph read so far, and building a graph from weights. */
  onProgress?: (p: { stage: 'load'; done: number; total: number }) => void;
  /** Each step before the first bytes are read, e.g. 'compiling the CPU engine' (the page shows it while it lasts). */
  onStep?: (step: string) => void;
}

/** A model ready to run: its engine and how it runs, with the files openRunnableModel read. */
export interface OpenedEngine {
  model: CausalLM;
  runnable: RunnableModel;
  engine: EngineKind;
  device: 'wasm' | 'webgpu';
  /** Threads of the engine that runs it. */
  threads: number;
  /** The CPU engine's SIMD flavour. */
  simd?: 'relaxed' | 'plain';
  /** Why the CPU engine was asked for but onnxruntime-web runs the model. */
  fallback?: string;
  /** The CPU engine's wasm memory when loaded. */
  memoryBytes?: number;
  /** How the CPU engine holds an imported model's matrices when not as stored, e.g. 'fp16 (from BF16)'. */
  weights?: string;
}

type How = Omit<OpenedEngine, 'runnable'>;

export async function openEngine(open: OpenModelFile, host: EngineHost, o: OpenEngineOptions): Promise<OpenedEngine> {
  const wanted = o.engine ?? 'auto';
  if (wanted === 'auto') o.onStep?.('choosing the device');
  const choice = wanted === 'auto' ? ((await pickDevice(o.device ?? 'auto')) === 'wasm' ? 'cpu' : 'onnx') : wanted;
  const stored = o.sessionName ?? ((name: string) => name);
  const onBytes = (done: number, total: number) => o.onProgress?.({ stage: 'load', done, total });
  const opening: OpenRunnableOptions = { where: o.where, display: o.display, onBytes, makeTokenizer: host.makeTokenizer };
  if (choice === 'cpu') {
    const threads = o.threads ?? host.defaultThreads();
    o.onStep?.('compiling the CPU engine');
    const loader = await CpuModelLoader.create(await host.engineModules(), { threads, ...(host.spawner ? { spawner: host.spawner } : {}) });
    o.onStep?.("reading the model's configuration and tokenizer");
    const runnable = await openRunnableModel(open, { ...opening, allocate: loader.allocate });
    const { graph } = runnable;
    const lm = graph.kind === 'onnx' ? await loader.fromGraph(runnable.config, graph) : await loader.fromIR(graph.ir);
    if (!('unsupported' in lm)) return { runnable, ...cpuEngine(lm) };
    const files = loader.copyOut(graph as OnnxGraph);
    return {
      runnable,
      ...(await onnxEngine(runnable, files, stored(files.name), host, { ...o, device: 'wasm' })),
      fallback: lm.unsupported,
    };
  }
  o.onStep?.("reading the model's configuration and tokenizer");
  const runnable = await openRunnableModel(open, opening);
  const { graph } = runnable;
  if (choice === 'reference') {
    if (graph.kind === 'onnx') {
      await runnable.tokenizer?.dispose?.();
      throw new ShrinkrayError(
        'bad_argument',
        `the reference engine runs imported models (model.safetensors); ${o.where} holds a compressed graph`,
      );
    }
    return { runnable, model: await ReferenceModel.load(graph.ir), engine: 'reference', device: 'wasm', threads: 1 };
  }
  const files = graph.kind === 'onnx' ? graph : await weightsGraph(graph.ir, host.weightsGraph, o);
  return { runnable, ...(await onnxEngine(runnable, files, graph.kind === 'onnx' ? stored(graph.name) : files.name, host, o)) };
}

function cpuEngine(lm: CpuCausalLM): How {
  const w = lm.info.weights;
  const weights = w?.matrices === 'f16' ? { weights: `fp16 (from ${w.from.join(', ')})` } : {};
  return {
    model: lm,
    engine: 'cpu',
    device: 'wasm',
    threads: lm.info.threads,
    simd: lm.info.simd,
    memoryBytes: lm.info.heapBytes(),
    ...weights,
  };
}

// Imported on demand: a model on the CPU engine never loads onnxruntime-web.
async function onnxEngine(m: RunnableModel, files: GraphFiles, fileName: string, host: EngineHost, o: OpenEngineOptions): Promise<How> {
  o.onStep?.('starting onnxruntime-web');
  const [{ createOnnxCausalLM }, ort] = await Promise.all([import('../runtime/onnx-causal-lm.ts'), import('onnxruntime-web')]);
  const model = await createOnnxCausalLM(m.config, files.model, [...files.externalData], {
    fileName,
    configName: (o.sessionName ?? ((n: string) => n))(m.configName),
    ...(o.device ? { device: o.device } : {}),
    ...(host.onnxThreads && o.threads ? { numThreads: o.threads } : {}),
  });
  return { model, engine: 'onnx', device: model.device, threads: ort.env.wasm.numThreads ?? 1 };
}

/**
 * A graph built from an imported model's weights for onnxruntime-web: fp16 storage for a 16-bit
 * checkpoint when the host asks to keep it, else fp32; a graph over the builder's threshold keeps
 * its external data, joined into one buffer (onnxruntime-web takes one per file).
 */
async function weightsGraph(ir: ModelIR, keep: EngineHost['weightsGraph'], o: OpenEngineOptions): Promise<GraphFiles> {
  const { buildOnnxDecoder } = await import('../build/decoder.ts');
  const half = keep === 'checkpoint' && [...ir.tensors.values()].some((t) => t.dtype === 'BF16' || t.dtype === 'F16');
  const storage = half ? 'fp16' : 'fp32';
  const built = await buildOnnxDecoder(ir, { storage, onProgress: (p) => o.onProgress?.({ stage: 'load', done: p.done, total: p.total }) });
  const ext = built.externalData;
  let data: Uint8Array | null = null;
  if (ext) {
    // The chunks are joined once (the graph's weights are held twice meanwhile).
    data = new Uint8Array(ext.byteLength);
    let at = 0;
    for (let c = ext.chunks.shift(); c; c = ext.chunks.shift()) {
      data.set(c, at);
      at += c.byteLength;
    }
  }
  const name = `${o.where} (${storage} graph from its weights)`;
  return { name, model: built.model, externalData: ext && data ? [{ path: ext.location, data }] : [] };
}
