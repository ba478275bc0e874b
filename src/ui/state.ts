import { signal } from '@preact/signals';
import {
  createCompressClient,
  DEFAULT_HUB_URL,
  type ChatDevice,
  type ModelConfig,
  type StoredModelInfo,
  type StoreUsage,
  urlModelName,
} from '../worker/client.ts';
import { askPersistence } from './persistence.ts';

/**
 * The app's state: which screen is shown, the stored models and storage use, the model
 * and recipe chosen for compression, the report shown, and the settings that persist in
 * localStorage. One compress worker serves the whole page.
 */
export type Tab = 'model' | 'shrink' | 'chat' | 'models';
export const TABS: readonly { id: Tab; label: string }[] = [
  { id: 'model', label: '1. Model' },
  { id: 'shrink', label: '2. Shrink' },
  { id: 'chat', label: '3. Chat' },
  { id: 'models', label: 'Stored models' },
];

function tabFromHash(): Tab {
  const id = location.hash.slice(1);
  return TABS.some((t) => t.id === id) ? (id as Tab) : 'model';
}

export const tab = signal<Tab>(tabFromHash());
window.addEventListener('hashchange', () => (tab.value = tabFromHash()));

export function showTab(next: Tab): void {
  if (tab.value === next) return;
  tab.value = next;
  history.replaceState(null, '', `${location.pathname}${location.search}#${next}`);
  // The new screen's heading takes focus, so keyboard and screen-reader users land on it.
  requestAnimationFrame(() => document.getElementById(`${next}-heading`)?.focus());
}

export const compressor = createCompressClient();
export const models = signal<StoredModelInfo[]>([]);
export const usage = signal<StoreUsage | null>(null);
export const storeError = signal<string | null>(null);

export async function refreshModels(): Promise<void> {
  try {
    const [list, u] = await Promise.all([compressor.list(), compressor.usage()]);
    models.value = list;
    usage.value = u;
    storeError.value = null;
  } catch (e) {
    storeError.value = e instanceof Error ? e.message : String(e);
  }
}

/**
 * Called once a model is stored: refreshes the list and asks the browser to keep our storage
 * (only a page can ask). The ask is never awaited: Firefox answers it with a prompt that may
 * stay open for ever (persistence.ts), and a stored model is usable without the answer.
 */
export async function modelStored(): Promise<void> {
  askPersistence({ onAnswer: () => void refreshModels() });
  await refreshModels();
}

// The model chosen for compression, with its parsed config for checking recipes as the user types.
export const sourceId = signal<string | null>(null);
export const sourceConfig = signal<ModelConfig | null>(null);
export const sourceError = signal<string | null>(null);

export async function chooseSource(id: string, next: Tab | null = 'shrink'): Promise<void> {
  sourceId.value = id;
  sourceConfig.value = null;
  sourceError.value = null;
  try {
    sourceConfig.value = await compressor.modelConfig(id);
  } catch (e) {
    sourceError.value = e instanceof Error ? e.message : String(e);
  }
  if (next) showTab(next);
}

export const recipeText = signal('int4-g32+emb8');
/** The compressed model whose report the Shrink screen shows. */
export const reportId = signal<string | null>(null);
/** The model the Chat screen runs. */
export const chatModelId = signal<string | null>(null);

const HUB_KEY = 'shrinkray.hubUrl';
export const hubUrl = signal(localStorage.getItem(HUB_KEY) || DEFAULT_HUB_URL);
export function setHubUrl(url: string): void {
  hubUrl.value = url.trim() || DEFAULT_HUB_URL;
  if (hubUrl.value === DEFAULT_HUB_URL) localStorage.removeItem(HUB_KEY);
  else localStorage.setItem(HUB_KEY, hubUrl.value);
}

/** Where models run, for chat and for measuring: one setting, so before/after share a device. */
export interface RunSettings {
  device: ChatDevice;
  threads: number;
}
const RUN_KEY = 'shrinkray.run';
// Until capabilities.ts has answered, isolation alone says whether threads may be offered.
const cores = Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1));
/** The most CPU threads the chat settings offer (environment.ts lowers it where workers cannot share memory or nest). */
export const maxThreads = signal(globalThis.crossOriginIsolated === true ? cores : 1);
function loadRun(): RunSettings {
  try {
    const r = JSON.parse(localStorage.getItem(RUN_KEY) ?? '{}') as Partial<RunSettings>;
    const device = r.device === 'wasm' || r.device === 'webgpu' ? r.device : 'auto';
    const threads = Number.isInteger(r.threads) && r.threads! >= 1 && r.threads! <= maxThreads.value ? r.threads! : maxThreads.value;
    return { device, threads };
  } catch {
    return { device: 'auto', threads: maxThreads.value };
  }
}
export const runSettings = signal<RunSettings>(loadRun());
export function setRunSettings(next: RunSettings): void {
  runSettings.value = next;
  localStorage.setItem(RUN_KEY, JSON.stringify(next));
}

/** Called once the capabilities are known: the chat's threads never exceed what the browser can run. */
export function applyMaxThreads(n: number): void {
  maxThreads.value = n;
  if (runSettings.value.threads > n) runSettings.value = { ...runSettings.value, threads: n };
}

/** A short name for a stored model id. */
export function modelName(id: string): string {
  if (id.startsWith('compressed:')) {
    const rest = id.slice('compressed:'.length);
    const cut = rest.lastIndexOf(':');
    return `${modelName(rest.slice(0, cut))} · ${rest.slice(cut + 1)}`;
  }
  if (id.startsWith('hub:')) return id.slice(4).replace(/@main$/, '');
  if (id.startsWith('demo:')) return `${id.slice(5)} (demo)`;
  if (id.startsWith('local:')) return `${id.slice(6)} (local)`;
  // A share link's folder ('…/int4-g32/'), or a GGUF file's URL ('…/model-Q8_0.gguf').
  if (id.startsWith('url:')) return `${id.endsWith('/') ? urlModelName(id.slice(4)) : id.split('/').pop()} (url)`;
  return id;
}

/** Models that can be compressed: the ones with safetensors weights. */
export function isSourceModel(m: StoredModelInfo): boolean {
  return m.files.some((f) => f.path.endsWith('.safetensors'));
}
