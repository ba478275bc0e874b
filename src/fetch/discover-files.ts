import { ShrinkrayError } from '../errors.ts';
import { printable } from '../formats/printable.ts';
import { HF_SIDE_FILES, isShardName, MODEL_FILES } from '../formats/model-folder-layout.ts';
import { fetchJsonObject } from './http-json.ts';
import { fetchWithRetry, type RetryOptions } from './http-retry.ts';
import { hubApiUrl, hubFileUrl, type HubRef } from './hub-url.ts';

/**
 * Which files of a hub repo make up the model. The listing (`/api/models/<id>?blobs=true`)
 * gives names, sizes and LFS sha-256s; without it (a mirror with no API) the known names
 * are probed with HEAD. Weights: model.safetensors, else shards named by
 * model.safetensors.index.json, else an ONNX export.
 */
export interface RemoteFile {
  path: string;
  size?: number;
  sha256?: string; // lowercase hex, for LFS files
}

export interface ModelFilePlan {
  ref: HubRef;
  format: 'safetensors' | 'onnx';
  /** Everything to download, metadata first. */
  files: RemoteFile[];
  /** The weight files (safetensors shards in order, or the ONNX graph and its data). */
  weights: string[];
  /** 'model.safetensors.index.json' with its weight map, for sharded checkpoints. */
  index?: { path: string; weightMap: Record<string, string> };
  /** Whether the hub's listing was available (else names were probed). */
  listed: boolean;
}

const INDEX_FILE = MODEL_FILES.weightIndex;
// Our layout's graph first, then where other exporters put theirs.
const ONNX_CANDIDATES = [MODEL_FILES.onnxModel, 'model.onnx', 'onnx/model_fp16.onnx'];
const SHARD = /^model-(\d{5})-of-(\d{5})\.safetensors$/;

interface Sibling {
  rfilename?: unknown;
  size?: unknown;
  lfs?: { sha256?: unknown; size?: unknown };
}

/** The listing as path -> RemoteFile, or undefined when the hub has no API (404 for the API route only). */
async function fetchListing(ref: HubRef, o: RetryOptions): Promise<Map<string, RemoteFile> | undefined> {
  const url = hubApiUrl(ref);
  let res: Response;
  try {
    res = await fetchWithRetry(url, { headers: { Accept: 'application/json' } }, `${ref.repo} listing`, o);
  } catch (e) {
    // A missing repo or revision is final; a mirror without the API route falls back to probing.
    const code = (e as ShrinkrayError).code;
    if (code === 'missing_file' && /does not exist/.test((e as Error).message)) throw e;
    if (code === 'missing_file') return undefined;
    throw e;
  }
  const body = (await res.json().catch(() => undefined)) as { siblings?: Sibling[] } | undefined;
  if (!body || !Array.isArray(body.siblings)) {
    throw new ShrinkrayError('download_error', `${ref.repo}: the listing at ${url} has no 'siblings' array`);
  }
  const files = new Map<string, RemoteFile>();
  for (const s of body.siblings) {
    if (typeof s.rfilename !== 'string') continue;
    const size = typeof s.lfs?.size === 'number' ? s.lfs.size : typeof s.size === 'number' ? s.size : undefined;
    const sha256 = typeof s.lfs?.sha256 === 'string' && /^[0-9a-f]{64}$/i.test(s.lfs.sha256) ? s.lfs.sha256.toLowerCase() : undefined;
    files.set(s.rfilename, { path: s.rfilename, size, sha256 });
  }
  return files;
}

/** HEAD one known name; present files come back with their size (and sha-256 when the ETag is one). */
async function probe(ref: HubRef, path: string, o: RetryOptions): Promise<RemoteFile | undefined> {
  try {
    const res = await fetchWithRetry(hubFileUrl(ref, path), { method: 'HEAD' }, path, o);
    const length = res.headers.get('Content-Length');
    const etag = (res.headers.get('ETag') ?? '').replace(/^W\//, '').replace(/"/g, '');
    // An LFS blob's ETag is its sha-256, and its Content-Length its size; a small text file
    // may be served compressed, so its Content-Length says nothing about the file.
    if (!/^[0-9a-f]{64}$/.test(etag)) return { path };
    return { path, size: length !== null && /^\d+$/.test(length) ? Number(length) : undefined, sha256: etag };
  } catch (e) {
    if ((e as ShrinkrayError).code === 'missing_file') return undefined;
    throw e;
  }
}

/** Finds the model's files; 'missing_file' names what is absent (config.json, weights, or a shard). */
export async function discoverModelFiles(ref: HubRef, o: RetryOptions = {}): Promise<ModelFilePlan> {
  const listing = await fetchListing(ref, o);
  const lookup = async (path: string) => (listing ? listing.get(path) : probe(ref, path, o));
  const where = `${ref.repo}@${ref.revision} on ${ref.baseUrl}`;

  const files: RemoteFile[] = [];
  for (const path of HF_SIDE_FILES) {
    const f = await lookup(path);
    if (f) files.push(f);
  }
  if (!files.some((f) => f.path === MODEL_FILES.config))
    throw new ShrinkrayError('missing_file', `${MODEL_FILES.config}: not found in ${where}`);

  const single = await lookup(MODEL_FILES.weights);
  if (single) return { ref, format: 'safetensors', files: [...files, single], weights: [single.path], listed: !!listing };

  const indexFile = await lookup(INDEX_FILE);
  if (indexFile) {
    const index = await fetchJsonObject(hubFileUrl(ref, INDEX_FILE), INDEX_FILE, o);
    const map = index.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.keys(map).length === 0) {
      throw new ShrinkrayError('bad_file', `${INDEX_FILE}: no 'weight_map' object in ${where}`);
    }
    const weightMap = map as Record<string, string>;
    const shards = [...new Set(Object.values(weightMap))].sort();
    const shardFiles: RemoteFile[] = [];
    for (const shard of shards) {
      // A plain file name beside the index: '../x' or 'a/b' would name another repo's file, or a path outside the model.
      if (!isShardName(shard))
        throw new ShrinkrayError(
          'bad_file',
          `${INDEX_FILE}: weight_map names ${printable(String(JSON.stringify(shard)), 80)}, not a plain .safetensors file name`,
        );
      const f = await lookup(shard);
      if (!f) throw new ShrinkrayError('missing_file', `${shard}: named in ${INDEX_FILE} but not found in ${where}`);
      shardFiles.push(f);
    }
    return {
      ref,
      format: 'safetensors',
      files: [...files, indexFile, ...shardFiles],
      weights: shards,
      index: { path: INDEX_FILE, weightMap },
      listed: !!listing,
    };
  }

  if (listing) {
    const shards = [...listing.keys()].filter((p) => SHARD.test(p)).sort();
    if (shards.length > 0) {
      // Shards without an index: all of 1..M must be there.
      const of = Number(SHARD.exec(shards[0]!)![2]);
      for (let i = 1; i <= of; i++) {
        const name = `model-${String(i).padStart(5, '0')}-of-${String(of).padStart(5, '0')}.safetensors`;
        if (!listing.has(name)) throw new ShrinkrayError('missing_file', `${name}: shard ${i} of ${of} not found in ${where}`);
      }
      return { ref, format: 'safetensors', files: [...files, ...shards.map((p) => listing.get(p)!)], weights: shards, listed: true };
    }
  }

  for (const path of ONNX_CANDIDATES) {
    const graph = await lookup(path);
    if (!graph) continue;
    const data = (listing ? [...listing.keys()].filter((p) => p.startsWith(`${path}_data`)).sort() : []).map((p) => listing!.get(p)!);
    if (!listing) {
      const probed = await probe(ref, `${path}_data`, o);
      if (probed) data.push(probed);
    }
    const weights = [graph, ...data];
    return { ref, format: 'onnx', files: [...files, ...weights], weights: weights.map((f) => f.path), listed: !!listing };
  }
  throw new ShrinkrayError(
    'missing_file',
    `${where} has no weights: no ${MODEL_FILES.weights}, no ${INDEX_FILE}, no shards, and no ONNX export (${ONNX_CANDIDATES.join(', ')})`,
  );
}
