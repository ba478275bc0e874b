import { env } from '@huggingface/transformers';

/**
 * Serves `files` (a folder as transformersJsFolder assembles it) to transformers.js under model
 * name `name`, through its custom-cache hook: nothing is fetched from a hub or a CDN. Its pinned
 * onnxruntime-web loads its wasm from node_modules. Names must be word characters (it asks for
 * '+' as '%2B').
 */
export function serveInMemory(name: string, files: Map<string, Uint8Array | Uint8Array[]>): void {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = '/in-memory/';
  env.useBrowserCache = false;
  env.useCustomCache = true;
  env.customCache = {
    match: async (key: string | Request) => {
      const url = typeof key === 'string' ? key : key.url;
      const prefix = `/in-memory/${name}/`;
      const path = url.includes(prefix) ? url.slice(url.indexOf(prefix) + prefix.length) : '';
      const content = files.get(path);
      if (!content) return undefined;
      return new Response(Array.isArray(content) ? new Blob(content as BlobPart[]) : (content as BlobPart));
    },
    put: async () => {},
  };
  const ortWasm = (env.backends.onnx as { wasm?: { wasmPaths?: unknown; numThreads?: number } }).wasm!;
  ortWasm.wasmPaths = '/node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/';
}
