import { ShrinkrayError } from '../errors.ts';
import { CpuModelLoader, type GraphFiles } from '../engine/cpu-model-loader.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { ReferenceModel } from '../model/reference-forward.ts';
import { withFiniteLogits } from '../runtime/finite-logits.ts';
import type { OnnxCausalLM } from '../runtime/onnx-causal-lm.ts';
import type { OnnxSessionOptions } from '../runtime/onnx-session.ts';
import { openRunnableModel, type OnnxGraph, type OpenRunnableOptions, type RunnableModel } from '../runtime/runnable-model.ts';
import type { ModelTokenizer } from '../runtime/tokenizer.ts';
import { engineModulesNode, nodeThreadSpawner } from './engine-node.ts';
import { folderOpener } from './folder-opener.ts';
import { GuardedTokenizer } from './guarded-tokenizer.ts';

/** Which engine runs a model from the CLI: our CPU engine (default), onnxruntime-web, or the fp32 TypeScript reference. */
export type EngineChoice = 'cpu' | 'onnx' | 'reference';
export const ENGINE_CHOICES: readonly EngineChoice[] = Object.freeze(['cpu', 'onnx', 'reference']);

/** A model ready to run from the CLI: its engine (its logits checked to be finite), its tokenizer and generation defaults. */
export interface LoadedEngine {
  kind: EngineChoice;
  model: CausalLM;
  tokenizer: ModelTokenizer;
  generationConfig: Record<string, unknown> | null;
  /** Threads and SIMD flavour of the CPU engine. */
  threads: number;
  simd?: 'relaxed' | 'plain';
  /** Why the CPU engine was asked for but onnxruntime-web runs the model. */
  fallback?: string;
  /** How the CPU engine holds an imported model's matrices when not as stored, e.g. 'fp16 (from BF16)'. */
  weights?: string;
  /** Frees the engine and stops the tokenizer's thread. */
  dispose(): Promise<void>;
}

export interface LoadEngineOptions {
  engine?: EngineChoice;
  /** CPU engine threads (default 1). */
  threads?: number;
}

function openFolder(dir: string, extra: Partial<OpenRunnableOptions> = {}): Promise<RunnableModel> {
  const { open, display } = folderOpener(dir);
  // The tokenizer runs on a worker thread with a time budget: tokenizer.json's regular expressions are the model's code.
  return openRunnableModel(open, { where: dir, display, makeTokenizer: (parts) => GuardedTokenizer.create(parts), ...extra });
}

// Imported on demand: the other engines never load onnxruntime.
async function onnxModel(m: RunnableModel, graph: GraphFiles, opts: OnnxSessionOptions): Promise<OnnxCausalLM> {
  const { createOnnxCausalLM } = await import('../runtime/onnx-causal-lm.ts');
  return createOnnxCausalLM(m.config, graph.model, [...graph.externalData], { fileName: graph.name, configName: m.configName, ...opts });
}

/** The model on the chosen engine, and how it runs. */
async function runModel(
  dir: string,
  opts: LoadEngineOptions,
): Promise<{ m: RunnableModel; model: CausalLM } & Omit<LoadedEngine, 'model' | 'tokenizer' | 'generationConfig' | 'dispose'>> {
  const choice = opts.engine ?? 'cpu';
  if (choice === 'cpu') {
    const loader = await CpuModelLoader.create(await engineModulesNode(), { threads: opts.threads ?? 1, spawner: nodeThreadSpawner });
    const m = await openFolder(dir, { allocate: loader.allocate });
    const { graph } = m;
    const lm = graph.kind === 'onnx' ? await loader.fromGraph(m.config, graph) : await loader.fromIR(graph.ir);
    if ('unsupported' in lm) {
      return { m, kind: 'onnx', model: await onnxModel(m, loader.copyOut(graph as OnnxGraph), {}), threads: 1, fallback: lm.unsupported };
    }
    const w = lm.info.weights;
    const weights = w?.matrices === 'f16' ? { weights: `fp16 (from ${w.from.join(', ')})` } : {};
    return { m, kind: 'cpu', model: lm, threads: lm.info.threads, simd: lm.info.simd, ...weights };
  }
  const m = await openFolder(dir);
  const { graph } = m;
  if (choice === 'reference') {
    if (graph.kind === 'onnx') {
      await m.tokenizer?.dispose?.();
      throw new ShrinkrayError(
        'bad_argument',
        `--engine reference runs imported folders (model.safetensors); ${dir} holds a compressed graph`,
      );
    }
    return { m, kind: 'reference', model: await ReferenceModel.load(graph.ir), threads: 1 };
  }
  if (graph.kind === 'onnx') return { m, kind: 'onnx', model: await onnxModel(m, graph, {}), threads: 1 };
  const { buildOnnxDecoder } = await import('../build/decoder.ts');
  const built = await buildOnnxDecoder(graph.ir);
  const external = built.externalData ? [{ path: built.externalData.location, data: Buffer.concat(built.externalData.chunks) }] : [];
  return {
    m,
    kind: 'onnx',
    model: await onnxModel(m, { name: `${dir} (fp32 graph)`, model: built.model, externalData: external }, {}),
    threads: 1,
  };
}

/**
 * Loads a model folder on the chosen engine. 'cpu' (default) runs any folder: a compressed
 * one's stored graph, read into the engine's memory, or an imported one's weights (f32, or fp16
 * for a bf16/fp16 checkpoint); a
 * graph the engine does not run falls back to onnxruntime-web (`fallback` says why). 'onnx'
 * runs a compressed folder's graph, or an fp32 graph built from an imported folder's weights.
 * 'reference' runs an imported folder on the fp32 reference forward pass.
 */
export async function loadEngine(dir: string, opts: LoadEngineOptions = {}): Promise<LoadedEngine> {
  const { m, model, ...how } = await runModel(dir, opts);
  const tokenizer = m.tokenizer!;
  const { display } = folderOpener(dir);
  const checked = withFiniteLogits(model, m.graph.kind === 'onnx' ? m.graph.name : display(MODEL_FILES.weights));
  return {
    ...how,
    model: checked,
    tokenizer,
    generationConfig: m.generationConfig,
    dispose: async () => {
      await tokenizer.dispose?.();
      await model.dispose();
    },
  };
}

/** A compressed folder's graph on onnxruntime-web: <dir>/config.json, onnx/model.onnx and its external data. */
export async function loadOnnxCausalLM(dir: string, opts: OnnxSessionOptions = {}): Promise<OnnxCausalLM> {
  const m = await openFolder(dir, { onnxOnly: true, tokenizer: false });
  return onnxModel(m, m.graph as OnnxGraph, opts);
}
