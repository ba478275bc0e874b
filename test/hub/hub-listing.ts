import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/**
 * The file listing of a model folder as the hub's `/api/models/<id>?blobs=true` gives it:
 * siblings with rfilename and size, plus `lfs: { sha256, size, pointerSize }` for the
 * binary files the hub keeps in LFS (weights). Hashes are cached per path, size and mtime.
 */
export interface HubSibling {
  rfilename: string;
  size?: number;
  blobId?: string;
  lfs?: { sha256: string; size: number; pointerSize: number };
}

export interface ListedFile {
  path: string; // inside the repo, '/'-separated
  size: number;
  sha256: string;
  lfs: boolean;
}

// The hub's default .gitattributes sends these to LFS; small text files stay in git.
const LFS_NAME = /\.(safetensors|onnx|onnx_data|bin|gguf|pt|pth|msgpack|h5|ckpt|tflite)$/;

const hashCache = new Map<string, { key: string; sha256: string }>();

export async function fileSha256(path: string, size: number, mtimeMs: number): Promise<string> {
  const key = `${size}:${mtimeMs}`;
  const hit = hashCache.get(path);
  if (hit?.key === key) return hit.sha256;
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  const sha256 = hash.digest('hex');
  hashCache.set(path, { key, sha256 });
  return sha256;
}

/** Every file under `dir` (dot files and folders skipped), sorted by path. */
export async function listRepoFiles(dir: string): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  async function walk(at: string): Promise<void> {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() || entry.isSymbolicLink()) {
        const st = await stat(full);
        if (!st.isFile()) continue;
        const path = relative(dir, full).split(sep).join('/');
        out.push({ path, size: st.size, sha256: await fileSha256(full, st.size, st.mtimeMs), lfs: LFS_NAME.test(path) });
      }
    }
  }
  await walk(dir);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** The JSON body of `/api/models/<repo>[/revision/<rev>]`; sizes and LFS facts only with blobs=true, as on the hub. */
export function modelInfo(repo: string, commit: string, files: ListedFile[], blobs: boolean): Record<string, unknown> {
  const siblings: HubSibling[] = files.map((f) => {
    if (!blobs) return { rfilename: f.path };
    const s: HubSibling = { rfilename: f.path, size: f.size, blobId: f.sha256.slice(0, 40) };
    if (f.lfs) s.lfs = { sha256: f.sha256, size: f.size, pointerSize: 134 };
    return s;
  });
  return { _id: commit.slice(0, 24), id: repo, modelId: repo, sha: commit, private: false, disabled: false, gated: false, siblings };
}

/** A stable fake commit id for a repo's current contents. */
export function repoCommit(files: ListedFile[]): string {
  const h = createHash('sha1');
  for (const f of files) h.update(`${f.path}\0${f.sha256}\n`);
  return h.digest('hex');
}
