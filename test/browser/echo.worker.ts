import * as Comlink from 'comlink';

/**
 * A minimal comlink module worker for the browser smoke test: it proves that module
 * workers load under COOP/COEP, are themselves cross-origin isolated, and that
 * ArrayBuffers cross the boundary by transfer (no copy) in both directions.
 */
const api = {
  echo(text: string): string {
    return `echo: ${text}`;
  },

  /** What the worker sees of its own isolation. */
  isolation(): { crossOriginIsolated: boolean; sharedArrayBuffer: boolean } {
    return { crossOriginIsolated: self.crossOriginIsolated, sharedArrayBuffer: typeof SharedArrayBuffer === 'function' };
  },

  /** Sums the bytes it received, doubles each one in place and transfers the buffer back. */
  sumAndDouble(buffer: ArrayBuffer): { sum: number; buffer: ArrayBuffer } {
    const bytes = new Uint8Array(buffer);
    let sum = 0;
    for (let i = 0; i < bytes.length; i++) {
      sum += bytes[i]!;
      bytes[i] = (bytes[i]! * 2) & 0xff;
    }
    return Comlink.transfer({ sum, buffer }, [buffer]);
  },
};

export type EchoApi = typeof api;

Comlink.expose(api);
