import './site.css';
import { createEngine } from '../lib/index.ts';
import type { ChatCompletionMessage, Engine } from '../lib/engine-api.ts';
import { prepareSite, type SiteReadiness } from './isolate.ts';
import { SITE_MODEL_DIR, type SiteManifest } from './site-manifest.ts';
import { describeEngine, describeSite, replyFigures } from './site-text.ts';

/**
 * The exported demo site's page: opens the model in ./model/ through the library API (the same
 * createEngine the app's chat runs on, in a worker), says what it runs on, and chats with it,
 * streaming each reply. A model without a chat template continues the text it is given instead
 * (an empty message starts from scratch). Greedy by default, so a demo shows the same text each time.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const progress = $<HTMLProgressElement>('progress');
const log = $<HTMLElement>('log');
const form = $<HTMLFormElement>('ask');
const prompt = $<HTMLTextAreaElement>('prompt');
const send = $<HTMLButtonElement>('send');
const stop = $<HTMLButtonElement>('stop');

const MAX_TOKENS = 256;
// Performance marks a benchmark reads: the model opened, and each reply's first piece of text.
const MODEL_READY = 'shrinkray-site:model-ready';
const FIRST_TOKEN = 'shrinkray-site:first-token';
const history: ChatCompletionMessage[] = [];
let running: AbortController | undefined;

function say(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

function turn(role: 'user' | 'assistant', text: string): HTMLDivElement {
  const div = document.createElement('div');
  div.className = `turn ${role}`;
  div.textContent = text;
  log.append(div);
  div.scrollIntoView({ block: 'end' });
  return div;
}

async function readSite(): Promise<SiteManifest | null> {
  try {
    const res = await fetch('site.json');
    return res.ok ? ((await res.json()) as SiteManifest) : null;
  } catch {
    return null;
  }
}

async function reply(engine: Engine, text: string): Promise<void> {
  const chat = engine.info.hasChatTemplate;
  if (chat || text) turn('user', text || '(from scratch)');
  const out = turn('assistant', '');
  const body = document.createElement('span');
  body.className = 'text';
  out.append(body);
  running = new AbortController();
  const started = performance.now();
  try {
    if (chat) {
      history.push({ role: 'user', content: text });
      const stream = await engine.chat.completions.create({
        messages: history,
        max_tokens: MAX_TOKENS,
        stream: true,
        signal: running.signal,
      });
      let content = '';
      let tokens = 0;
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta.content ?? '';
        if (piece && !content) performance.mark(FIRST_TOKEN);
        content += piece;
        body.textContent = content;
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
      history.push({ role: 'assistant', content });
      out.append(replyFigures(tokens, performance.now() - started));
    } else {
      let content = text;
      body.textContent = content;
      const r = await engine.generate(text, {
        max_tokens: MAX_TOKENS,
        signal: running.signal,
        onToken: (piece) => {
          if (content === text) performance.mark(FIRST_TOKEN);
          content += piece.text;
          body.textContent = content;
        },
      });
      out.append(replyFigures(r.usage.completion_tokens, performance.now() - started));
    }
  } finally {
    running = undefined;
  }
}

function ready(engine: Engine): void {
  const chat = engine.info.hasChatTemplate;
  $<HTMLLabelElement>('prompt-label').textContent = chat ? 'Message' : 'Start of a text for the model to continue (empty: from scratch)';
  prompt.disabled = false;
  send.disabled = false;
  prompt.focus();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (running) return;
    const text = prompt.value.trim();
    if (chat && !text) return;
    prompt.value = '';
    send.disabled = true;
    stop.hidden = false;
    say('Writing…');
    reply(engine, text)
      .then(() => say('Ready.'))
      .catch((e: unknown) => say((e as Error).message, true))
      .finally(() => {
        send.disabled = false;
        stop.hidden = true;
        prompt.focus();
      });
  });
  prompt.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  stop.addEventListener('click', () => running?.abort());
}

async function start(): Promise<void> {
  const site = await readSite();
  if (site) {
    document.title = `${site.title}: on-device chat`;
    $('title').textContent = site.title;
    $('made').textContent = describeSite(site);
  }
  say('Preparing the page…');
  const readiness: SiteReadiness = await prepareSite();
  say('Loading the model…');
  progress.hidden = false;
  // The CPU engine even where WebGPU exists, unless the site was exported with onnxruntime-web
  // (--webgpu); `?engine=cpu|onnx|auto` overrides it, to compare the two in a demo.
  const asked = new URLSearchParams(location.search).get('engine');
  const engine = await createEngine(new URL(SITE_MODEL_DIR, document.baseURI).href, {
    engine: asked === 'cpu' || asked === 'onnx' || asked === 'auto' ? asked : (site?.engine ?? 'cpu'),
    onProgress: (p) => {
      progress.max = p.total || 1;
      progress.value = p.done;
    },
  });
  performance.mark(MODEL_READY);
  progress.hidden = true;
  $('runs-on').textContent = describeEngine(engine.info, readiness);
  say('Ready.');
  ready(engine);
}

start().catch((e: unknown) => {
  progress.hidden = true;
  say(`The model could not be opened: ${(e as Error).message}`, true);
});
