import { ShrinkrayError } from '../errors.ts';

/**
 * Hugging Face hub addresses. The base URL is configurable: the public hub by default, a
 * mirror, or the loopback server the tests use; everything else follows the hub's layout.
 */
export const DEFAULT_HUB_URL = 'https://huggingface.co';

/** One revision of one repo on one hub. */
export interface HubRef {
  baseUrl: string; // no trailing slash
  repo: string; // 'org/name' (or a legacy single name such as 'gpt2')
  revision: string; // a branch, tag or commit; 'main' by default
}

// The hub's own rule for repo names: letters, digits, '-', '_', '.', no '--' or '..', not
// starting or ending with '-' or '.'; at most 96 characters per part.
const PART = /^(?![-.])(?!.*(--|\.\.))[A-Za-z0-9_.-]{1,96}(?<![-.])$/;

/** Parses and checks a repo id such as 'HuggingFaceTB/SmolLM2-135M-Instruct'; 'bad_argument' names what is wrong. */
export function parseRepoId(id: string): string {
  const trimmed = id
    .trim()
    .replace(/^https?:\/\/[^/]+\//, '')
    .replace(/\/+$/, '');
  const parts = trimmed.split('/');
  if (parts.length > 2 || !parts.every((p) => PART.test(p))) {
    throw new ShrinkrayError(
      'bad_argument',
      `'${id}' is not a hub repo id; expected 'org/name' such as 'HuggingFaceTB/SmolLM2-135M-Instruct'`,
    );
  }
  return trimmed;
}

/** A HubRef with the id checked and the base URL normalised. */
export function hubRef(repo: string, revision = 'main', baseUrl = DEFAULT_HUB_URL): HubRef {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new ShrinkrayError('bad_argument', `hub base URL '${baseUrl}' is not a URL`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new ShrinkrayError('bad_argument', `hub base URL '${baseUrl}' must be http or https`);
  }
  if (revision.length === 0 || revision.includes('..')) throw new ShrinkrayError('bad_argument', `revision '${revision}' is not valid`);
  return { baseUrl: base.href.replace(/\/+$/, ''), repo: parseRepoId(repo), revision };
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** `<base>/<repo>/resolve/<revision>/<path>`: the file's bytes (the hub may redirect to a CDN). */
export function hubFileUrl(ref: HubRef, path: string): string {
  if (path.length === 0 || path.startsWith('/') || path.split('/').includes('..')) {
    throw new ShrinkrayError('bad_argument', `file path '${path}' in ${ref.repo} must be relative, without '..'`);
  }
  return `${ref.baseUrl}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${encodePath(path)}`;
}

/** `<base>/api/models/<repo>[/revision/<rev>]?blobs=true`: the file listing, with sizes and LFS sha-256s. */
export function hubApiUrl(ref: HubRef): string {
  const rev = ref.revision === 'main' ? '' : `/revision/${encodeURIComponent(ref.revision)}`;
  return `${ref.baseUrl}/api/models/${ref.repo}${rev}?blobs=true`;
}

// What a hub access token may hold: printable ASCII without spaces (the hub's are 'hf_' and letters).
const TOKEN = /^[\x21-\x7e]{1,512}$/;

/**
 * The headers that carry an access token to the hub, for gated or private repos (Gemma,
 * Llama). Sent with the hub's own requests only; a redirect to another origin (the hub's
 * file CDN) drops Authorization, as fetch does by the standard. No token: no header.
 */
export function hubAuthHeaders(token: string | undefined): Record<string, string> {
  if (token === undefined || token === '') return {};
  if (!TOKEN.test(token)) {
    throw new ShrinkrayError('bad_argument', 'the hub access token has characters a token cannot have (spaces, line breaks or non-ASCII)');
  }
  return { Authorization: `Bearer ${token}` };
}
