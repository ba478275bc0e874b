import { ShrinkrayError } from '../errors.ts';

/**
 * What the store knows about one model: where it came from, its files (by path in the
 * Hugging Face layout), and for compressed models the recipe and report. It is written
 * last in the commit transaction, so a model exists exactly when its manifest does.
 */
export interface ModelManifest {
  /** Stable id, e.g. 'hub:HuggingFaceTB/SmolLM2-135M@main' or 'compressed:<source>:int4-g32'. */
  id: string;
  source: ModelSource;
  files: ManifestFile[];
  /** Recipe text for compressed models. */
  recipe?: string;
  /** The evaluation report (sizes, perplexity, speed), as plain JSON. */
  report?: Record<string, unknown>;
  /** Milliseconds since the epoch; set by commitModel when absent. */
  createdAt?: number;
}

export type ModelSource =
  | { kind: 'hub'; repo: string; revision: string; baseUrl: string }
  | { kind: 'local'; name: string }
  | { kind: 'demo'; name: string }
  | { kind: 'compressed'; from: string }
  /** A compressed model folder fetched from a share link's URL (src/fetch/model-url.ts). */
  | { kind: 'url'; url: string };

export interface ManifestFile {
  /** Path inside the model folder, e.g. 'onnx/model.onnx'. */
  path: string;
  /** The stored file's id (see ModelStore.openFile). */
  fileId: string;
  size: number;
  sha256: string;
}

const SOURCE_KINDS: readonly string[] = Object.freeze(['hub', 'local', 'demo', 'compressed', 'url'] satisfies ModelSource['kind'][]);

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Throws 'bad_argument' naming the field unless the manifest is well formed. */
export function validateManifest(m: ModelManifest): void {
  const where = `model manifest '${String(m?.id)}'`;
  if (typeof m?.id !== 'string' || m.id.length === 0) throw new ShrinkrayError('bad_argument', `${where}: id must be a non-empty string`);
  if (typeof m.source !== 'object' || m.source === null || typeof m.source.kind !== 'string') {
    throw new ShrinkrayError('bad_argument', `${where}: source must be an object with a kind`);
  }
  if (!SOURCE_KINDS.includes(m.source.kind)) {
    throw new ShrinkrayError('bad_argument', `${where}: source kind '${m.source.kind}' is not one of ${SOURCE_KINDS.join(', ')}`);
  }
  if (m.source.kind === 'url' && (typeof m.source.url !== 'string' || !/^https?:\/\//.test(m.source.url))) {
    throw new ShrinkrayError('bad_argument', `${where}: source url ${JSON.stringify(m.source.url)} must be an http(s) URL`);
  }
  if (!Array.isArray(m.files) || m.files.length === 0)
    throw new ShrinkrayError('bad_argument', `${where}: files must be a non-empty array`);
  const paths = new Set<string>();
  for (const f of m.files) {
    if (typeof f.path !== 'string' || f.path.length === 0 || f.path.startsWith('/') || f.path.split('/').includes('..')) {
      throw new ShrinkrayError('bad_argument', `${where}: file path ${JSON.stringify(f.path)} must be relative, without '..'`);
    }
    if (paths.has(f.path)) throw new ShrinkrayError('bad_argument', `${where}: file '${f.path}' is listed twice`);
    paths.add(f.path);
    if (typeof f.fileId !== 'string' || f.fileId.length === 0)
      throw new ShrinkrayError('bad_argument', `${where}: file '${f.path}' has no fileId`);
    if (!Number.isSafeInteger(f.size) || f.size < 0)
      throw new ShrinkrayError('bad_argument', `${where}: file '${f.path}' has size ${f.size}, expected a byte count`);
    if (typeof f.sha256 !== 'string' || !SHA256_HEX.test(f.sha256)) {
      throw new ShrinkrayError(
        'bad_argument',
        `${where}: file '${f.path}' has sha256 ${JSON.stringify(f.sha256)}, expected 64 lowercase hex digits`,
      );
    }
  }
}

/** The entry for `path`, or 'missing_file' naming the model and the path. */
export function manifestFile(m: ModelManifest, path: string): ManifestFile {
  const f = m.files.find((x) => x.path === path);
  if (!f)
    throw new ShrinkrayError('missing_file', `model '${m.id}' has no file '${path}' (it has: ${m.files.map((x) => x.path).join(', ')})`);
  return f;
}

/** Total bytes of a model's files. */
export function manifestBytes(m: ModelManifest): number {
  return m.files.reduce((sum, f) => sum + f.size, 0);
}

/** The id under which a hub model is stored. */
export function hubModelId(repo: string, revision: string): string {
  return `hub:${repo}@${revision}`;
}
