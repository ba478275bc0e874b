import { useEffect, useRef, useState } from 'preact/hooks';
import { DEFAULT_HUB_URL, type StoredModelInfo } from '../worker/client.ts';
import { shareLinkFor } from './url-model.ts';

/**
 * "Copy link" on a stored model that others can open too: one fetched from a URL (the link
 * opens it in chat), or a hub model (the link checks the repo; downloading stays a click).
 * Where the browser refuses the clipboard (no permission, an insecure page), the link is shown
 * in a text field, selected, to copy by hand.
 */
export function shareLink(m: StoredModelInfo): string | undefined {
  const s = m.source;
  if (s.kind === 'url') return shareLinkFor(s.url);
  if (s.kind === 'hub' && s.revision === 'main') {
    const link = shareLinkFor(s.repo);
    return s.baseUrl === DEFAULT_HUB_URL ? link : `${link}&hub=${encodeURIComponent(s.baseUrl)}`;
  }
  return undefined;
}

export function CopyLink({ m, name }: { m: StoredModelInfo; name: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'refused'>('idle');
  const field = useRef<HTMLInputElement>(null);
  // Shown because the clipboard was refused: selected, so Ctrl+C (or the phone's Copy) takes it.
  useEffect(() => {
    if (state === 'refused') field.current?.select();
  }, [state]);
  const link = shareLink(m);
  if (!link) return null;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      setState('copied');
      setTimeout(() => setState((now) => (now === 'copied' ? 'idle' : now)), 5000);
    } catch {
      setState('refused');
    }
  };
  return (
    <>
      <button type="button" aria-label={`Copy link to ${name}`} onClick={() => void copy()}>
        Copy link
      </button>
      <span class="small muted copy-status" role="status">
        {state === 'copied' ? 'Link copied.' : ''}
      </span>
      {state === 'refused' && (
        <label class="share-link small">
          The browser did not allow copying; copy the link from here:
          <input type="text" readOnly value={link} ref={field} onFocus={(e) => e.currentTarget.select()} />
        </label>
      )}
    </>
  );
}
