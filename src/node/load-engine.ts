import { openEngine, type EngineChoice, type EngineHost, type OpenedEngine } from '../jobs/open-engine.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { withFiniteLogits } from '../runtime/finite-logits.ts';
import type { OnnxCausalLM } from '../runtime/onnx-causal-lm.ts';
import type { OnnxSessionOptions } from '../runtime/onnx-session.ts';
import { openRunnableModel, type OnnxGraph } from '../runtime/runnable-model.ts';
import type { ModelTokenizer } from '../runtime/tokenizer.ts';
import { engineModulesNode, nodeThreadSpawner } from './engine-node.ts';
import { folderOpener } from './folder-opener.ts';
import { GuardedTokenizer } from './guarded-tokenizer.ts';

/**
 * The Node host of openEngine (jobs/open-engine.ts), for the CLI and scripts: the engine's
 * modules read from disk (built on first use), helper threads as worker_threads, the tokenizer
 * on a worker thread with a time budget (tokenizer.json's regular expressions are the model's
 * code), one thread unless asked, and fp32 graphs built from imported weights (the CLI's
 * accuracy baseline).
 */
export const nodeEngineHost: EngineHost = {
  engineModules: () => engineModulesNode(),
  spawner: nodeThreadSpawner,
  defaultThreads: () => 1,
  onnxThreads: false,
  weightsGraph: 'fp32',
  makeTokenizer: (parts) => GuardedTokenizer.create(parts),
};

/** The engines the CLI's --engine names ('auto' is the CPU engine in Node: it has no WebGPU). */
export const ENGINE_CHOICES: readonly EngineChoice[] = Object.freeze(['cpu', 'onnx', 'reference']);

/** A model ready to run from the CLI: its engine (its logits checked to be finite), its tokenizer and generation defaults. */
export interface LoadedEngine extends Omit<OpenedEngine, 'model' | 'runnable' | 'engine'> {
  kind: OpenedEngine['engine'];
  model: CausalLM;
  tokenizer: ModelTokenizer;
  generationConfig: Record<string, unknown> | null;
  /** Frees the engine and stops the tokenizer's thread. */
  dispose(): Promise<void>;
}

export interface LoadEngineOptions {
  engine?: EngineChoice;
  /** CPU engine threads (default 1). */
  threads?: number;
}

/**
 * Loads a model folder on the chosen engine. 'cpu' (default) runs any folder: a compressed
 * one's stored graph, read into the engine's memory, or an imported one's weights (f32, or fp16
 * for a bf16/fp16 checkpoint); a graph the engine does not run falls back to onnxruntime-web
 * (`fallback` says why). 'onnx' runs a compressed folder's graph, or an fp32 graph built from an
 * imported folder's weights. 'reference' runs an imported folder on the fp32 reference forward pass.
 */
export async function loadEngine(dir: string, opts: LoadEngineOptions = {}): Promise<LoadedEngine> {
  const { open, display } = folderOpener(dir);
  const { runnable, model, engine, ...how } = await openEngine(open, nodeEngineHost, {
    engine: opts.engine ?? 'cpu',
    threads: opts.threads,
    where: dir,
    display,
  });
  const tokenizer = runnable.tokenizer!;
  const checked = withFiniteLogits(model, runnable.graph.kind === 'onnx' ? runnable.graph.name : display(MODEL_FILES.weights));
  return {
    ...how,
    kind: engine,
    model: checked,
    tokenizer,
    generationConfig: runnable.generationConfig,
    dispose: async () => {
      await tokenizer.dispose?.();
      await model.dispose();
    },
  };
}

/** A compressed folder's graph on onnxruntime-web: <dir>/config.json, onnx/model.onnx and its external data. */
export async function loadOnnxCausalLM(dir: string, opts: OnnxSessionOptions = {}): Promise<OnnxCausalLM> {
  const { open, display } = folderOpener(dir);
  const m = await openRunnableModel(open, { where: dir, display, onnxOnly: true, tokenizer: false });
  const graph = m.graph as OnnxGraph;
  const { createOnnxCausalLM } = await import('../runtime/onnx-causal-lm.ts');
  return createOnnxCausalLM(m.config, graph.model, [...graph.externalData], { fileName: graph.name, configName: m.configName, ...opts });
}
