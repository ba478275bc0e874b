import type { CausalLM } from '../model/causal-lm.ts';
import { ReferenceModel } from '../model/reference-forward.ts';
import type { OnnxCausalLM } from '../runtime/onnx-causal-lm.ts';
import type { OnnxSessionOptions } from '../runtime/onnx-session.ts';
import { openRunnableModel, type OnnxGraph, type RunnableModel } from '../runtime/runnable-model.ts';
import type { TextTokenizer } from '../runtime/tokenizer.ts';
import { folderOpener } from './folder-opener.ts';

/** A model ready to run from the CLI: its engine, its tokenizer and generation defaults. */
export interface LoadedEngine {
  kind: 'reference' | 'onnx';
  model: CausalLM;
  tokenizer: TextTokenizer;
  generationConfig: Record<string, unknown> | null;
}

function openFolder(dir: string, extra: { onnxOnly?: boolean; tokenizer?: boolean } = {}): Promise<RunnableModel> {
  const { open, display } = folderOpener(dir);
  return openRunnableModel(open, { where: dir, display, ...extra });
}

// Imported on demand: the reference path never loads onnxruntime.
async function onnxModel(m: RunnableModel & { graph: OnnxGraph }, opts: OnnxSessionOptions): Promise<OnnxCausalLM> {
  const { createOnnxCausalLM } = await import('../runtime/onnx-causal-lm.ts');
  return createOnnxCausalLM(m.config, m.graph.model, m.graph.externalData, { fileName: m.graph.name, ...opts });
}

/**
 * Picks the engine for a model folder: a compressed folder (onnx/model.onnx) runs on
 * onnxruntime-web; an imported one (model.safetensors) on the fp32 reference forward pass.
 */
export async function loadEngine(dir: string): Promise<LoadedEngine> {
  const m = await openFolder(dir);
  const { graph } = m;
  const model = graph.kind === 'onnx' ? await onnxModel({ ...m, graph }, {}) : await ReferenceModel.load(graph.ir);
  return { kind: graph.kind === 'onnx' ? 'onnx' : 'reference', model, tokenizer: m.tokenizer!, generationConfig: m.generationConfig };
}

/** A compressed folder's graph on onnxruntime-web: <dir>/config.json, onnx/model.onnx and its external data. */
export async function loadOnnxCausalLM(dir: string, opts: OnnxSessionOptions = {}): Promise<OnnxCausalLM> {
  const m = await openFolder(dir, { onnxOnly: true, tokenizer: false });
  return onnxModel(m as RunnableModel & { graph: OnnxGraph }, opts);
}
