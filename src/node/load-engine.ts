import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import type { CausalLM } from '../model/causal-lm.ts';
import { ReferenceModel } from '../model/reference-forward.ts';
import { withFiniteLogits } from '../runtime/finite-logits.ts';
import type { OnnxCausalLM } from '../runtime/onnx-causal-lm.ts';
import type { OnnxSessionOptions } from '../runtime/onnx-session.ts';
import { openRunnableModel, type OnnxGraph, type RunnableModel } from '../runtime/runnable-model.ts';
import type { ModelTokenizer } from '../runtime/tokenizer.ts';
import { folderOpener } from './folder-opener.ts';
import { GuardedTokenizer } from './guarded-tokenizer.ts';

/** A model ready to run from the CLI: its engine (its logits checked to be finite), its tokenizer and generation defaults. */
export interface LoadedEngine {
  kind: 'reference' | 'onnx';
  model: CausalLM;
  tokenizer: ModelTokenizer;
  generationConfig: Record<string, unknown> | null;
  /** Frees the engine and stops the tokenizer's thread. */
  dispose(): Promise<void>;
}

function openFolder(dir: string, extra: { onnxOnly?: boolean; tokenizer?: boolean } = {}): Promise<RunnableModel> {
  const { open, display } = folderOpener(dir);
  // The tokenizer runs on a worker thread with a time budget: tokenizer.json's regular expressions are the model's code.
  return openRunnableModel(open, { where: dir, display, makeTokenizer: (parts) => GuardedTokenizer.create(parts), ...extra });
}

// Imported on demand: the reference path never loads onnxruntime.
async function onnxModel(m: RunnableModel & { graph: OnnxGraph }, opts: OnnxSessionOptions): Promise<OnnxCausalLM> {
  const { createOnnxCausalLM } = await import('../runtime/onnx-causal-lm.ts');
  return createOnnxCausalLM(m.config, m.graph.model, m.graph.externalData, { fileName: m.graph.name, configName: m.configName, ...opts });
}

/**
 * Picks the engine for a model folder: a compressed folder (onnx/model.onnx) runs on
 * onnxruntime-web; an imported one (model.safetensors) on the fp32 reference forward pass.
 */
export async function loadEngine(dir: string): Promise<LoadedEngine> {
  const m = await openFolder(dir);
  const { graph } = m;
  const tokenizer = m.tokenizer!;
  const stopTokenizer = async () => tokenizer.dispose?.();
  let model: CausalLM;
  try {
    model = graph.kind === 'onnx' ? await onnxModel({ ...m, graph }, {}) : await ReferenceModel.load(graph.ir);
  } catch (e) {
    await stopTokenizer();
    throw e;
  }
  const { display } = folderOpener(dir);
  const checked = withFiniteLogits(model, graph.kind === 'onnx' ? graph.name : display(MODEL_FILES.weights));
  return {
    kind: graph.kind === 'onnx' ? 'onnx' : 'reference',
    model: checked,
    tokenizer,
    generationConfig: m.generationConfig,
    dispose: async () => {
      await stopTokenizer();
      await model.dispose();
    },
  };
}

/** A compressed folder's graph on onnxruntime-web: <dir>/config.json, onnx/model.onnx and its external data. */
export async function loadOnnxCausalLM(dir: string, opts: OnnxSessionOptions = {}): Promise<OnnxCausalLM> {
  const m = await openFolder(dir, { onnxOnly: true, tokenizer: false });
  return onnxModel(m as RunnableModel & { graph: OnnxGraph }, opts);
}
