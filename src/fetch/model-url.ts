import { ShrinkrayError } from '../errors.ts';

/**
 * A share link's model: `?model=https://host/path/folder/` names a compressed model folder
 * served over HTTP (an exported site's model/, a hub repo's subfolder under /resolve/main/,
 * a GitHub Pages path). These helpers are pure, so the page and the worker agree on the
 * folder's spelling and on the id the model is stored under.
 */

/** Whether a `?model=` value is a URL (rather than a repo id or 'demo'). */
export function isModelUrl(text: string): boolean {
  return /^https?:\/\//i.test(text.trim());
}

/**
 * The folder URL, normalised: http or https only, query and fragment dropped (file URLs are
 * resolved against the folder, which would drop them anyway), a trailing '/' added, and a
 * link to the folder's config.json taken as the folder itself.
 */
export function modelFolderUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ShrinkrayError('bad_argument', `model link ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ShrinkrayError('bad_argument', `model link ${url.href} must be http: or https:, not ${url.protocol}`);
  }
  url.search = '';
  url.hash = '';
  url.pathname = url.pathname.replace(/\/config\.json$/, '/');
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/** The id a model fetched from a folder URL is stored under. */
export function urlModelId(folderUrl: string): string {
  return `url:${folderUrl}`;
}

/**
 * A short name for a folder URL: a hub subfolder as 'org/repo/sub', otherwise the last folder
 * (with the one above it when it is an exported site's plain 'model/').
 */
export function urlModelName(folderUrl: string): string {
  let parts: string[];
  try {
    parts = new URL(folderUrl).pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return folderUrl;
  }
  const resolve = parts.indexOf('resolve');
  if (resolve === 2 && parts.length >= 4) return [parts[0], parts[1], ...parts.slice(4)].join('/');
  if (parts.length === 0) return new URL(folderUrl).host;
  const last = parts.at(-1)!;
  return last === 'model' && parts.length > 1 ? `${parts.at(-2)}/${last}` : last;
}
