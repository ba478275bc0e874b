import { signal } from '@preact/signals';
import {
  createChatClient,
  isShrinkrayError,
  type ChatClient,
  type ModelEvaluation,
  type ModelMeasurement,
  type Progress,
  type StoredModelInfo,
} from '../worker/client.ts';
import { runJob } from './jobs.ts';
import catalogue from './model-catalogue.json';
import { compressor, models, modelName, refreshModels, runSettings } from './state.ts';

/**
 * Measures a compressed model against its source on the same device and text: perplexity
 * (documents separated by <|endoftext|>) and decode tokens/s of a short greedy generation,
 * both in a chat worker of their own that goes away afterwards; the result is stored in
 * the compressed model's report by the compress worker.
 */
export type TextChoice = 'auto' | 'english' | 'stories' | 'pasted';
export const textChoice = signal<TextChoice>('auto');
export const pastedText = signal('');

const DECODE_TOKENS = 64;
// A few tokens first: the first passes of a fresh session allocate and compile, which is not decode speed.
const WARMUP_TOKENS = 4;
const SPEED_PROMPT = 'Once upon a time';

/** The model a compressed model was made from ('compressed:<source>:<recipe>'), if it says. */
export function sourceOf(info: StoredModelInfo): string | undefined {
  return info.source.kind === 'compressed' ? info.source.from : undefined;
}

function resolveChoice(info: StoredModelInfo): Exclude<TextChoice, 'auto'> {
  if (textChoice.value !== 'auto') return textChoice.value;
  const root = sourceOf(info) ?? info.id;
  return root.startsWith('demo:') ? 'stories' : 'english';
}

async function loadText(choice: Exclude<TextChoice, 'auto'>): Promise<{ name: string; text: string }> {
  if (choice === 'pasted') {
    if (!pastedText.value.trim()) throw new Error('the pasted text is empty: paste some text to score, or choose a built-in text');
    return { name: 'pasted text', text: pastedText.value };
  }
  const entry = catalogue.texts.find((t) => t.id === choice)!;
  const res = await fetch(new URL(entry.path, document.baseURI));
  if (!res.ok || (res.headers.get('content-type') ?? '').includes('text/html')) {
    throw new Error(
      `${entry.path} is not served by this build${choice === 'stories' ? ' (it comes with the demo model: run npm run fixtures)' : ''}`,
    );
  }
  return { name: entry.label, text: await res.text() };
}

async function measure(chat: ChatClient, modelId: string, text: string, signal: AbortSignal, onProgress: (p: Progress) => void) {
  const s = runSettings.value;
  onProgress({ stage: 'prepare', done: 0, total: 1, item: `opening ${modelName(modelId)} in the model's worker` });
  const loaded = await chat.load(modelId, { device: s.device, threads: s.threads, onProgress });
  const ppl = await chat.evaluate(text, { signal, onProgress });
  await chat.generate({ prompt: { text: SPEED_PROMPT }, maxNewTokens: WARMUP_TOKENS, temperature: 0 }, { signal });
  const gen = await chat.generate({ prompt: { text: SPEED_PROMPT }, maxNewTokens: DECODE_TOKENS, temperature: 0 }, { signal });
  if (signal.aborted) throw signal.reason;
  const m: ModelMeasurement = {
    modelId,
    ppl: ppl.ppl,
    nll: ppl.nll,
    tokens: ppl.tokens,
    docs: ppl.docs,
    tokensPerSecond: gen.tokensPerSecond,
    decodeTokens: gen.ids.length,
  };
  return { loaded, m };
}

export async function evaluateModel(info: StoredModelInfo): Promise<StoredModelInfo | undefined> {
  return runJob('evaluate', `Measuring ${modelName(info.id)}`, async ({ signal, onProgress }) => {
    onProgress({ stage: 'prepare', done: 0, total: 1, item: 'reading the text to score' });
    const { name, text } = await loadText(resolveChoice(info));
    const from = sourceOf(info);
    const chat = createChatClient();
    try {
      let before: ModelMeasurement | null = null;
      let beforeWeights: string | undefined;
      let beforeProblem: string | undefined = from ? undefined : 'the report does not say which model it was made from';
      if (from && !models.value.some((m) => m.id === from)) beforeProblem = `${modelName(from)} is no longer stored`;
      else if (from) {
        try {
          const original = await measure(chat, from, text, signal, onProgress);
          before = original.m;
          beforeWeights = original.loaded.weights;
        } catch (e) {
          // The original may not run where its compressed copy does (an fp32 graph too large for
          // this device): the compressed model is still measured, and the report says why.
          if (signal.aborted || (isShrinkrayError(e) && e.code === 'aborted')) throw e;
          beforeProblem = `the original could not run here: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
      const { loaded, m: after } = await measure(chat, info.id, text, signal, onProgress);
      const evaluation: ModelEvaluation = {
        textName: name,
        textChars: text.length,
        device: loaded.device,
        engine: loaded.engine,
        ...(loaded.simd ? { simd: loaded.simd } : {}),
        threads: loaded.threads,
        before,
        after,
        measuredAt: Date.now(),
        ...(beforeProblem ? { beforeProblem } : {}),
        ...(before && beforeWeights ? { beforeWeights } : {}),
      };
      const saved = await compressor.saveEvaluation(info.id, evaluation);
      await refreshModels();
      return saved;
    } finally {
      chat.terminate();
    }
  });
}
