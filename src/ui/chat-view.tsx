import { signal, useSignalEffect } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { sourceOf } from './evaluation.ts';
import { backendSentence, environment } from './environment.ts';
import { formatRunsOn } from './format.ts';
import { ChatSession, type SamplingSettings, type Turn } from './chat-session.ts';
import { chatModelId, maxThreads, modelName, models, runSettings, setRunSettings, showTab } from './state.ts';
import type { ChatDevice } from '../worker/client.ts';

/**
 * Screen 3: chat with a stored model, alone or side by side with the model it was made
 * from (two chat workers, the same prompt). Replies stream in as text, never as HTML.
 */
const main = new ChatSession();
const original = new ChatSession();
const compare = signal(false);
const drafted = signal(false); // "original, drafted by the compressed model": main runs the source, the chosen model drafts
const draft = signal('');
const sampling = signal<SamplingSettings>({ temperature: 0.7, topP: 0.95, maxNewTokens: 128 });

function TurnView({ turn }: { turn: Turn }) {
  return (
    <li class={`turn ${turn.role}`}>
      <span class="who">{turn.role === 'user' ? 'You' : 'Model'}</span>
      <p class="text">
        {turn.text || (turn.streaming ? '…' : turn.role === 'user' ? '(empty prompt: the model starts from nothing)' : '(no text)')}
      </p>
      {turn.stats && (
        <p class="muted small">
          {turn.stats.tokens} tokens · {turn.stats.tokensPerSecond.toFixed(1)} tokens/s
          {turn.stats.stoppedBy === 'abort' ? ' · stopped' : turn.stats.stoppedBy === 'length' ? ' · hit the token limit' : ''}
          {turn.stats.drafted &&
            ` · ${(100 * turn.stats.drafted.acceptanceRate).toFixed(0)}% of drafted tokens accepted · ` +
              `${turn.stats.drafted.targetPassesPerToken.toFixed(2)} passes of the original per token`}
        </p>
      )}
    </li>
  );
}

function Pane({ session, modelId, label }: { session: ChatSession; modelId: string; label: string }) {
  const info = session.info.value;
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }, [session.turns.value]);
  return (
    <section class="pane" aria-label={label}>
      <h3>
        {label}: {modelName(modelId)}
      </h3>
      <p class="muted small" aria-live="polite">
        {session.status.value === 'loading'
          ? 'Loading the model…'
          : info
            ? `${formatRunsOn(info)}${info.draft ? ` · drafted by ${modelName(info.draft.id)}` : ''} · ${info.hasChatTemplate ? 'chat template' : 'plain completion (no chat template)'} · loaded in ${(info.loadMs / 1000).toFixed(1)} s`
            : 'Not loaded yet.'}
      </p>
      {info?.fallback && <p class="muted small">onnxruntime-web runs this model: {info.fallback}</p>}
      {info?.weights && <p class="muted small">Weights held as {info.weights}, so a 1B model fits the engine's 4 GB memory.</p>}
      {session.error.value && (
        <p class="notice error" role="alert">
          {session.error.value}
        </p>
      )}
      <ol class="turns" ref={list} aria-live="polite" aria-busy={session.status.value === 'generating'}>
        {session.turns.value.map((t, i) => (
          <TurnView key={i} turn={t} />
        ))}
      </ol>
    </section>
  );
}

function Settings() {
  const run = runSettings.value;
  const s = sampling.value;
  const num = (v: string, lo: number, hi: number, fallback: number) => {
    const x = Number(v);
    return Number.isFinite(x) ? Math.min(hi, Math.max(lo, x)) : fallback;
  };
  return (
    <details class="settings chat-settings">
      <summary>
        Settings: temperature {s.temperature}, top-p {s.topP}, up to {s.maxNewTokens} tokens, device {run.device}
      </summary>
      <div class="row wrap">
        <label>
          <span>Temperature (0 = greedy)</span>
          <input
            type="number"
            min={0}
            max={2}
            step={0.1}
            value={s.temperature}
            onChange={(e) => (sampling.value = { ...s, temperature: num(e.currentTarget.value, 0, 2, 0.7) })}
          />
        </label>
        <label>
          <span>Top-p</span>
          <input
            type="number"
            min={0.05}
            max={1}
            step={0.05}
            value={s.topP}
            onChange={(e) => (sampling.value = { ...s, topP: num(e.currentTarget.value, 0.05, 1, 0.95) })}
          />
        </label>
        <label>
          <span>Max new tokens</span>
          <input
            type="number"
            min={1}
            max={2048}
            step={1}
            value={s.maxNewTokens}
            onChange={(e) => (sampling.value = { ...s, maxNewTokens: Math.round(num(e.currentTarget.value, 1, 2048, 128)) })}
          />
        </label>
        <label>
          <span>Device</span>
          <select value={run.device} onChange={(e) => setRunSettings({ ...run, device: e.currentTarget.value as ChatDevice })}>
            <option value="auto">Automatic</option>
            <option value="webgpu">WebGPU</option>
            <option value="wasm">wasm (CPU)</option>
          </select>
        </label>
        <label>
          <span>CPU threads</span>
          <input
            type="number"
            min={1}
            max={maxThreads.value}
            step={1}
            value={run.threads}
            disabled={maxThreads.value === 1}
            onChange={(e) => setRunSettings({ ...run, threads: Math.round(num(e.currentTarget.value, 1, maxThreads.value, 1)) })}
          />
        </label>
      </div>
      {environment.value && <p class="muted small">{backendSentence(environment.value)}</p>}
    </details>
  );
}

/** The stored source of a stored compressed model, or undefined. */
function storedSource(id: string): string | undefined {
  const m = models.value.find((x) => x.id === id);
  const from = m && sourceOf(m);
  return from && models.value.some((x) => x.id === from) ? from : undefined;
}

export function ChatView() {
  const runnable = models.value;
  const chosen =
    runnable.find((m) => m.id === chatModelId.value) ?? runnable.filter((m) => m.source.kind === 'compressed').at(-1) ?? runnable[0];
  const from = chosen && sourceOf(chosen);
  const canCompare = !!from && runnable.some((m) => m.id === from);
  const both = compare.value && canCompare;
  const draftedOn = drafted.value && canCompare;
  // Drafted: the main pane runs the original, with the chosen compressed model as its draft.
  const mainId = draftedOn ? from! : chosen?.id;
  const mainDraft = draftedOn ? chosen!.id : undefined;
  const busy = main.status.value !== 'idle' || (both && original.status.value !== 'idle');
  const generating = main.status.value === 'generating' || original.status.value === 'generating';

  useSignalEffect(() => {
    // Loading starts as soon as a model is shown, so the first reply does not wait for it.
    const id = chatModelId.value;
    const source = id && drafted.value ? storedSource(id) : undefined;
    if (id) void main.ensureLoaded(source ?? id, runSettings.value, source ? id : undefined);
  });
  useEffect(() => {
    if (chosen && chatModelId.value !== chosen.id) chatModelId.value = chosen.id;
  }, [chosen?.id]);

  if (!chosen) {
    return (
      <section aria-labelledby="chat-heading" class="screen">
        <h2 id="chat-heading" tabIndex={-1}>
          Chat
        </h2>
        <div class="card empty">
          <p>No model is stored yet. Choose one and shrink it, then chat with it here.</p>
          <button type="button" onClick={() => showTab('model')}>
            Choose a model
          </button>
        </div>
      </section>
    );
  }
  const send = (text: string) => {
    void main.send(mainId!, runSettings.value, text, sampling.value, mainDraft);
    if (both) void original.send(from!, runSettings.value, text, sampling.value);
  };
  return (
    <section aria-labelledby="chat-heading" class="screen">
      <h2 id="chat-heading" tabIndex={-1}>
        Chat
      </h2>
      <div class="card">
        <div class="row wrap">
          <label class="grow">
            <span>Model</span>
            <select
              value={chosen.id}
              onChange={(e) => {
                main.clear();
                original.clear();
                chatModelId.value = e.currentTarget.value;
              }}
            >
              {runnable.map((m) => (
                <option key={m.id} value={m.id}>
                  {modelName(m.id)}
                </option>
              ))}
            </select>
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={both}
              disabled={!canCompare}
              onChange={(e) => {
                compare.value = e.currentTarget.checked;
                original.clear();
              }}
            />
            <span>Side by side with the original{canCompare ? '' : ' (for compressed models whose source is stored)'}</span>
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={draftedOn}
              disabled={!canCompare}
              onChange={(e) => {
                drafted.value = e.currentTarget.checked;
                main.clear();
              }}
            />
            <span>Original, drafted by the compressed model</span>
          </label>
        </div>
        {draftedOn && (
          <p class="muted small">
            The compressed model proposes a few tokens and the original checks them in one pass: the original's own reply (greedy: the same
            text; sampling: the same distribution), in fewer of its passes.
          </p>
        )}
        <Settings />
      </div>
      <div class={both ? 'panes two' : 'panes'}>
        <Pane
          session={main}
          modelId={mainId!}
          label={draftedOn ? 'Original, drafted by the compressed model' : both ? 'Compressed' : 'Model'}
        />
        {both && <Pane session={original} modelId={from!} label="Original" />}
      </div>
      <form
        class="card prompt"
        onSubmit={(e) => {
          e.preventDefault();
          send(draft.value);
          draft.value = '';
        }}
      >
        <label for="prompt">
          {main.info.value && !main.info.value.hasChatTemplate ? 'Prompt (the model continues it; empty starts from nothing)' : 'Message'}
        </label>
        <textarea
          id="prompt"
          rows={3}
          value={draft.value}
          onInput={(e) => (draft.value = e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              e.currentTarget.form?.requestSubmit();
            }
          }}
        />
        <div class="row wrap">
          <button type="submit" class="primary" disabled={busy}>
            Send
          </button>
          <button
            type="button"
            disabled={!generating}
            onClick={() => {
              main.stop();
              original.stop();
            }}
          >
            Stop
          </button>
          <button
            type="button"
            disabled={busy || main.turns.value.length === 0}
            onClick={() => {
              void main.regenerate(mainId!, runSettings.value, sampling.value, mainDraft);
              if (both) void original.regenerate(from!, runSettings.value, sampling.value);
            }}
          >
            Regenerate
          </button>
          <button
            type="button"
            class="secondary"
            disabled={generating}
            onClick={() => {
              main.clear();
              original.clear();
            }}
          >
            Clear
          </button>
          <span class="muted small">Ctrl+Enter sends.</span>
        </div>
      </form>
    </section>
  );
}
