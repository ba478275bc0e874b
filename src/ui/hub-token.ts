import { signal } from '@preact/signals';

/**
 * The access token for gated or private hub repos (Gemma, Llama), kept in this browser's
 * localStorage with the hub address it was saved for. It goes only to that address: a deep
 * link that points the page at another hub for one visit (`?hub=`) gets no token.
 */
interface SavedToken {
  hubUrl: string;
  token: string;
}

const KEY = 'shrinkray.hubToken';
/** The address as the worker's hub reference spells it (src/fetch/hub-url.ts: parsed, no trailing slash). */
function base(url: string): string {
  try {
    return new URL(url.trim()).href.replace(/\/+$/, '');
  } catch {
    return url.trim().replace(/\/+$/, '');
  }
}

function read(): SavedToken | null {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Partial<SavedToken> | null;
    return typeof v?.hubUrl === 'string' && typeof v.token === 'string' ? { hubUrl: v.hubUrl, token: v.token } : null;
  } catch {
    return null;
  }
}

export const savedToken = signal<SavedToken | null>(read());

/** The token saved for this hub address, if any. */
export function tokenFor(hubUrl: string): string | undefined {
  const t = savedToken.value;
  return t && base(t.hubUrl) === base(hubUrl) ? t.token : undefined;
}

export function saveToken(hubUrl: string, token: string): void {
  const t = token.trim();
  if (!t) return forgetToken();
  savedToken.value = { hubUrl: base(hubUrl), token: t };
  localStorage.setItem(KEY, JSON.stringify(savedToken.value));
}

export function forgetToken(): void {
  savedToken.value = null;
  localStorage.removeItem(KEY);
}

/** The last four characters, to tell one saved token from another without showing it. */
export function tokenHint(token: string): string {
  return token.length > 8 ? `…${token.slice(-4)}` : '(saved)';
}
