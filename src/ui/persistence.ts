import { signal } from '@preact/signals';

/**
 * Persistent storage, asked for without ever waiting on the answer. Firefox answers
 * navigator.storage.persist() with a permission prompt and its promise stays pending until
 * someone answers (for ever in a headless or unattended tab), so no flow awaits it: a stored
 * model is usable at once, and the stored-models screen shows where the request stands, with
 * a button to ask again.
 */
export type PersistenceState =
  | 'granted' // the browser will not evict the models
  | 'denied' // asked, and the browser (or the person) said no
  | 'asking' // asked in this tab, no answer yet (Firefox: its prompt is open)
  | 'not-asked'
  | 'unsupported'; // no navigator.storage.persist (old browsers, some private modes)

export const persistence = signal<PersistenceState>('not-asked');

// The last answer, so a refusal is still shown as one after a reload (Chromium decides
// without a prompt and leaves the permission at 'prompt', so the permission alone cannot say).
const ANSWER_KEY = 'shrinkray.persistAnswer';

function storage(): StorageManager | undefined {
  return typeof navigator === 'undefined' ? undefined : navigator.storage;
}

/** Reads the state without asking: persisted() and the permission answer at once, unlike persist(). */
export async function readPersistence(): Promise<PersistenceState> {
  const sm = storage();
  if (!sm?.persist || !sm.persisted) return (persistence.value = 'unsupported');
  try {
    if (await sm.persisted()) return (persistence.value = 'granted');
  } catch {
    // persisted() can throw in opaque origins; the state stays as it was
  }
  if (persistence.value === 'asking') return 'asking';
  let permission: PermissionState | undefined;
  try {
    permission = (await navigator.permissions?.query({ name: 'persistent-storage' as PermissionName }))?.state;
  } catch {
    permission = undefined; // a browser without this permission name: the last answer decides
  }
  const last = readAnswer();
  persistence.value = permission === 'denied' || (permission !== 'granted' && last === 'denied') ? 'denied' : 'not-asked';
  return persistence.value;
}

/**
 * Asks for persistent storage and returns at once; the answer updates `persistence` when it
 * comes (then `onAnswer` runs, e.g. to refresh the storage figures). Asks once per tab unless
 * `again` (the stored-models screen's button), so one pending prompt is never stacked on another.
 */
export function askPersistence(opts: { again?: boolean; onAnswer?: () => void } = {}): void {
  const sm = storage();
  if (!sm?.persist) {
    persistence.value = 'unsupported';
    return;
  }
  if (persistence.value === 'granted' || (persistence.value === 'asking' && !opts.again)) return;
  if (persistence.value === 'denied' && !opts.again) return;
  persistence.value = 'asking';
  sm.persist().then(
    (granted) => {
      writeAnswer(granted ? 'granted' : 'denied');
      persistence.value = granted ? 'granted' : 'denied';
      opts.onAnswer?.();
    },
    () => {
      persistence.value = 'denied'; // a refusal is not an error: models stay usable, they may only be evicted
      opts.onAnswer?.();
    },
  );
}

function readAnswer(): string | null {
  try {
    return localStorage.getItem(ANSWER_KEY);
  } catch {
    return null;
  }
}

function writeAnswer(answer: 'granted' | 'denied'): void {
  try {
    localStorage.setItem(ANSWER_KEY, answer);
  } catch {
    // no localStorage: the state is still right for this tab
  }
}
