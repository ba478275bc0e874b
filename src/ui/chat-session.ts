import { signal } from '@preact/signals';
import { createChatClient, type ChatClient, type GenerateRequest, type GenerateSummary, type LoadedModelInfo } from '../worker/client.ts';
import type { RunSettings } from './state.ts';

/**
 * One chat worker and its conversation. The model's chat template is used when it has
 * one (the conversation so far is sent); otherwise each prompt is a plain completion.
 * Changing the thread count needs a new worker (onnxruntime reads it once per worker).
 */
export interface Turn {
  role: 'user' | 'assistant';
  text: string;
  /** For replies: how it went. */
  stats?: { tokens: number; tokensPerSecond: number; stoppedBy: 'eos' | 'length' | 'abort'; drafted?: GenerateSummary['drafted'] };
  streaming?: boolean;
}

export interface SamplingSettings {
  temperature: number;
  topP: number;
  maxNewTokens: number;
}

export class ChatSession {
  readonly info = signal<LoadedModelInfo | null>(null);
  readonly status = signal<'idle' | 'loading' | 'generating'>('idle');
  readonly error = signal<string | null>(null);
  readonly turns = signal<Turn[]>([]);
  private client: ChatClient | null = null;
  private clientThreads = 0;
  private loaded: { id: string; device: string; draft?: string } | null = null;
  private controller: AbortController | null = null;

  /** `draft`: a stored compressed copy of the model that drafts its replies (see LoadOptions.draft). */
  async ensureLoaded(modelId: string, run: RunSettings, draft?: string): Promise<boolean> {
    if (this.client && this.clientThreads !== run.threads) this.dispose();
    if (this.loaded?.id === modelId && this.loaded.device === run.device && this.loaded.draft === draft && this.info.value) return true;
    if (!this.client) {
      this.client = createChatClient();
      this.clientThreads = run.threads;
    }
    this.status.value = 'loading';
    this.error.value = null;
    try {
      this.info.value = await this.client.load(modelId, { device: run.device, threads: run.threads, draft });
      this.loaded = { id: modelId, device: run.device, draft };
      return true;
    } catch (e) {
      this.info.value = null;
      this.loaded = null;
      this.error.value = e instanceof Error ? e.message : String(e);
      return false;
    } finally {
      this.status.value = 'idle';
    }
  }

  /** Sends a user message (or a completion prompt) and streams the reply. */
  async send(modelId: string, run: RunSettings, text: string, sampling: SamplingSettings, draft?: string): Promise<void> {
    if (this.status.value !== 'idle') return;
    const history = this.info.value?.hasChatTemplate && this.loaded?.id === modelId ? this.turns.value : [];
    this.turns.value = [...history, { role: 'user', text }];
    await this.reply(modelId, run, sampling, draft);
  }

  /** Replaces the last reply with a new one for the same prompt. */
  async regenerate(modelId: string, run: RunSettings, sampling: SamplingSettings, draft?: string): Promise<void> {
    if (this.status.value !== 'idle') return;
    const turns = this.turns.value;
    const last = turns.at(-1)?.role === 'assistant' ? turns.slice(0, -1) : turns;
    if (last.length === 0) return;
    this.turns.value = last;
    await this.reply(modelId, run, sampling, draft);
  }

  stop(): void {
    this.controller?.abort(new Error('stopped by the user'));
  }

  clear(): void {
    this.stop();
    this.turns.value = [];
    this.error.value = null;
  }

  dispose(): void {
    this.stop();
    this.client?.terminate();
    this.client = null;
    this.loaded = null;
    this.info.value = null;
  }

  private async reply(modelId: string, run: RunSettings, sampling: SamplingSettings, draft?: string): Promise<void> {
    if (!(await this.ensureLoaded(modelId, run, draft))) return;
    const info = this.info.value!;
    const turns = this.turns.value;
    const prompt: GenerateRequest['prompt'] = info.hasChatTemplate
      ? { messages: turns.map((t) => ({ role: t.role, content: t.text })) }
      : { text: turns.at(-1)!.text };
    this.turns.value = [...turns, { role: 'assistant', text: '', streaming: true }];
    const setLast = (patch: Partial<Turn>) => {
      const all = this.turns.value;
      this.turns.value = [...all.slice(0, -1), { ...all.at(-1)!, ...patch }];
    };
    this.controller = new AbortController();
    this.status.value = 'generating';
    this.error.value = null;
    try {
      let text = '';
      const r = await this.client!.generate(
        {
          prompt,
          maxNewTokens: sampling.maxNewTokens,
          temperature: sampling.temperature,
          topP: sampling.topP < 1 ? sampling.topP : undefined,
        },
        {
          signal: this.controller.signal,
          onToken: (p) => {
            text += p.text;
            setLast({ text });
          },
        },
      );
      setLast({
        text: r.text,
        streaming: false,
        stats: { tokens: r.ids.length, tokensPerSecond: r.tokensPerSecond, stoppedBy: r.stoppedBy, drafted: r.drafted },
      });
    } catch (e) {
      setLast({ streaming: false });
      this.error.value = e instanceof Error ? e.message : String(e);
    } finally {
      this.controller = null;
      this.status.value = 'idle';
    }
  }
}
