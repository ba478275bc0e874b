import { ShrinkrayError } from '../errors.ts';
import { CpuModelLoader, type GraphFiles } from '../engine/cpu-model-loader.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { ReferenceModel } from '../model/reference-forward.ts';
import type { OnnxCausalLM } from '../runtime/onnx-causal-lm.ts';
import type { OnnxSessionOptions } from '../runtime/onnx-session.ts';
import { openRunnableModel, type OnnxGraph, type OpenRunnableOptions, type RunnableModel } from '../runtime/runnable-model.ts';
import type { TextTokenizer } from '../runtime/tokenizer.ts';
import { engineModulesNode, nodeThreadSpawner } from './engine-node.ts';
import { folderOpener } from './folder-opener.ts';

/** Which engine runs a model from the CLI: our CPU engine (default), onnxruntime-web, or the fp32 TypeScript reference. */
export type EngineChoice = 'cpu' | 'onnx' | 'reference';
export const ENGINE_CHOICES: readonly EngineChoice[] = Object.freeze(['cpu', 'onnx', 'reference']);

/** A model ready to run from the CLI: its engine, its tokenizer and generation defaults. */
export interface LoadedEngine {
  kind: EngineChoice;
  model: CausalLM;
  tokenizer: TextTokenizer;
  generationConfig: Record<string, unknown> | null;
  /** Threads and SIMD flavour of the CPU engine. */
  threads: number;
  simd?: 'relaxed' | 'plain';
  /** Why the CPU engine was asked for but onnxruntime-web runs the model. */
  fallback?: string;
}

export interface LoadEngineOptions {
  engine?: EngineChoice;
  /** CPU engine threads (default 1). */
  threads?: number;
}

function openFolder(dir: string, extra: Partial<OpenRunnableOptions> = {}): Promise<RunnableModel> {
  const { open, display } = folderOpener(dir);
  return openRunnableModel(open, { where: dir, display, ...extra });
}

// Imported on demand: the other engines never load onnxruntime.
async function onnxModel(m: RunnableModel, graph: GraphFiles, opts: OnnxSessionOptions): Promise<OnnxCausalLM> {
  const { createOnnxCausalLM } = await import('../runtime/onnx-causal-lm.ts');
  return createOnnxCausalLM(m.config, graph.model, [...graph.externalData], { fileName: graph.name, ...opts });
}

/**
 * Loads a model folder on the chosen engine. 'cpu' (default) runs any folder: a compressed
 * one's stored graph, read into the engine's memory, or an imported one's weights as f32; a
 * graph the engine does not run falls back to onnxruntime-web (`fallback` says why). 'onnx'
 * runs a compressed folder's graph, or an fp32 graph built from an imported folder's weights.
 * 'reference' runs an imported folder on the fp32 reference forward pass.
 */
export async function loadEngine(dir: string, opts: LoadEngineOptions = {}): Promise<LoadedEngine> {
  const choice = opts.engine ?? 'cpu';
  if (choice === 'cpu') {
    const loader = await CpuModelLoader.create(await engineModulesNode(), { threads: opts.threads ?? 1, spawner: nodeThreadSpawner });
    const m = await openFolder(dir, { allocate: loader.allocate });
    const base = { tokenizer: m.tokenizer!, generationConfig: m.generationConfig };
    const { graph } = m;
    const lm = graph.kind === 'onnx' ? await loader.fromGraph(m.config, graph) : await loader.fromIR(graph.ir);
    if ('unsupported' in lm) {
      const model = await onnxModel(m, loader.copyOut(graph as OnnxGraph), {});
      return { ...base, kind: 'onnx', model, threads: 1, fallback: lm.unsupported };
    }
    return { ...base, kind: 'cpu', model: lm, threads: lm.info.threads, simd: lm.info.simd };
  }
  const m = await openFolder(dir);
  const base = { tokenizer: m.tokenizer!, generationConfig: m.generationConfig, threads: 1 };
  const { graph } = m;
  if (choice === 'reference') {
    if (graph.kind === 'onnx')
      throw new ShrinkrayError(
        'bad_argument',
        `--engine reference runs imported folders (model.safetensors); ${dir} holds a compressed graph`,
      );
    return { ...base, kind: 'reference', model: await ReferenceModel.load(graph.ir) };
  }
  if (graph.kind === 'onnx') return { ...base, kind: 'onnx', model: await onnxModel(m, graph, {}) };
  const { buildOnnxDecoder } = await import('../build/decoder.ts');
  const built = await buildOnnxDecoder(graph.ir);
  const external = built.externalData ? [{ path: built.externalData.location, data: concat(built.externalData.chunks) }] : [];
  return {
    ...base,
    kind: 'onnx',
    model: await onnxModel(m, { name: `${dir} (fp32 graph)`, model: built.model, externalData: external }, {}),
  };
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A compressed folder's graph on onnxruntime-web: <dir>/config.json, onnx/model.onnx and its external data. */
export async function loadOnnxCausalLM(dir: string, opts: OnnxSessionOptions = {}): Promise<OnnxCausalLM> {
  const m = await openFolder(dir, { onnxOnly: true, tokenizer: false });
  return onnxModel(m, m.graph as OnnxGraph, opts);
}
