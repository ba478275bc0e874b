/**
 * A browser that lacks some of the capabilities the app uses, made from Chromium: the source
 * of a script that removes each named one before any of the app's code runs. The tests serve
 * it first in every script of the built app (page, service worker, every worker and nested
 * worker: test/e2e/static-server.ts `prelude`), so the app's real detection
 * (src/ui/capabilities.ts) and the code behind it meet a browser without them. (Playwright's
 * addInitScript reaches pages but not workers, and routing worker scripts through Playwright
 * stopped nested workers from starting in Chromium 156.)
 */
export type Without =
  | 'webgpu' // navigator.gpu gone
  | 'wasm-simd' // WebAssembly refuses any module with a SIMD instruction
  | 'relaxed-simd' // WebAssembly refuses modules with relaxed-SIMD instructions (validate says false, compile throws)
  | 'service-worker' // navigator.serviceWorker gone in the page: on a host without COOP/COEP, never isolated
  | 'nested-workers' // no Worker constructor inside workers
  | 'web-locks' // navigator.locks gone, page and workers
  | 'storage-persist' // StorageManager.persist and persisted gone
  | 'storage-estimate' // StorageManager.estimate gone
  | 'file-system-access' // showOpenFilePicker, showDirectoryPicker, showSaveFilePicker gone
  | 'opfs' // StorageManager.getDirectory gone
  | 'wait-async'; // Atomics.waitAsync gone

/** The prelude: `without` removed, and navigator.deviceMemory declared as `deviceMemoryGB` when given. */
export function withoutPrelude(without: readonly Without[], opts: { deviceMemoryGB?: number } = {}): string {
  const body = (() => {
    const g = globalThis as Record<string, unknown>;
    const off = new Set((g.__shrinkrayWithout as { list: string[] }).list);
    const protos = (...names: string[]) =>
      names.map((n) => (g[n] as { prototype?: object } | undefined)?.prototype).filter((p): p is object => !!p);
    const drop = (objs: object[], ...keys: string[]) => objs.forEach((o) => keys.forEach((k) => delete (o as Record<string, unknown>)[k]));
    const navs = protos('Navigator', 'WorkerNavigator');
    if (off.has('webgpu')) drop(navs, 'gpu');
    if (off.has('web-locks')) drop(navs, 'locks');
    if (off.has('service-worker')) drop(protos('Navigator'), 'serviceWorker');
    if (off.has('storage-persist')) drop(protos('StorageManager'), 'persist', 'persisted');
    if (off.has('storage-estimate')) drop(protos('StorageManager'), 'estimate');
    if (off.has('opfs')) drop(protos('StorageManager'), 'getDirectory');
    if (off.has('file-system-access')) drop([g], 'showOpenFilePicker', 'showDirectoryPicker', 'showSaveFilePicker');
    if (off.has('wait-async')) drop([Atomics], 'waitAsync');
    if (off.has('nested-workers') && typeof g.WorkerGlobalScope === 'function') drop([g], 'Worker');
    const memory = (g.__shrinkrayWithout as { deviceMemoryGB?: number }).deviceMemoryGB;
    if (memory !== undefined) navs.forEach((p) => Object.defineProperty(p, 'deviceMemory', { get: () => memory, configurable: true }));

    // Wasm: the code section's instructions with the 0xfd prefix; relaxed SIMD is 0xfd 0x100..0x113 (LEB128: 0x80..0x93 0x02).
    const simdOff = off.has('wasm-simd');
    if (!simdOff && !off.has('relaxed-simd')) return;
    const refused = (source: unknown): boolean => {
      const b = ArrayBuffer.isView(source)
        ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
        : source instanceof ArrayBuffer
          ? new Uint8Array(source)
          : null;
      if (!b) return false;
      let i = 8;
      const leb = () => {
        let v = 0;
        for (let shift = 0; ; shift += 7) {
          const byte = b[i++]!;
          v += (byte & 0x7f) * 2 ** shift;
          if (byte < 0x80) return v;
        }
      };
      while (i < b.length) {
        const id = b[i++]!;
        const size = leb();
        if (id === 10) {
          for (let j = i; j < i + size - 2; j++) {
            if (b[j] !== 0xfd) continue;
            if (simdOff || (b[j + 1]! >= 0x80 && b[j + 1]! <= 0x93 && b[j + 2] === 0x02)) return true;
          }
        }
        i += size;
      }
      return false;
    };
    const W = WebAssembly as unknown as Record<string, unknown>;
    const validate = WebAssembly.validate.bind(WebAssembly);
    const compile = WebAssembly.compile.bind(WebAssembly);
    const Module = WebAssembly.Module;
    const why = simdOff ? 'SIMD' : 'relaxed SIMD';
    W.validate = (bytes: BufferSource) => !refused(bytes) && validate(bytes);
    W.compile = (bytes: BufferSource) =>
      refused(bytes) ? Promise.reject(new WebAssembly.CompileError(`${why} is not supported`)) : compile(bytes);
    W.Module = new Proxy(Module, {
      construct(target, args: [BufferSource]) {
        if (refused(args[0])) throw new WebAssembly.CompileError(`${why} is not supported`);
        return Reflect.construct(target, args) as object;
      },
    });
  }).toString();
  const config = JSON.stringify({ list: without, ...(opts.deviceMemoryGB !== undefined ? { deviceMemoryGB: opts.deviceMemoryGB } : {}) });
  // __name: the helper esbuild (tsx, Vitest) may write into a function's source to keep its names.
  return `;if (!globalThis.__shrinkrayWithout) { globalThis.__shrinkrayWithout = ${config}; const __name = (f) => f; (${body})(); }\n`;
}
