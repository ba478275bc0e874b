/** How the app writes sizes, rates, durations and dates: one place, so every screen agrees. */

const UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB'];

/** Decimal units, as disks and the hub's pages count them (1 MB = 1,000,000 bytes). */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return 'unknown';
  if (bytes < 1000) return `${bytes} bytes`;
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${UNITS[u]}`;
}

/** Exact byte count with separators, for figures a reader may compare with a file listing. */
export function exactBytes(bytes: number): string {
  return `${bytes.toLocaleString('en-US')} bytes`;
}

export function formatRate(bytesPerSecond: number | undefined): string {
  return bytesPerSecond && bytesPerSecond > 0 ? `${formatBytes(bytesPerSecond)}/s` : '…';
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '…';
  if (seconds < 1) return 'under a second';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatDate(ms: number | undefined): string {
  if (ms === undefined) return 'unknown';
  return new Date(ms).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatNumber(x: number | undefined, digits = 3): string {
  return x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

export function percent(done: number, total: number): number {
  return total > 0 ? Math.min(100, (100 * done) / total) : 0;
}

/** What runs a model, as the worker reported it: the CPU engine, or onnxruntime-web on wasm or WebGPU. */
export interface RunsOn {
  device: 'wasm' | 'webgpu';
  engine?: 'cpu' | 'onnx';
  threads: number;
  simd?: 'relaxed' | 'plain';
  fallback?: string;
}

/** "CPU engine (relaxed SIMD), 2 threads", "onnxruntime-web wasm, 1 thread", "WebGPU"... */
export function formatRunsOn(r: RunsOn): string {
  const threads = `${r.threads} thread${r.threads === 1 ? '' : 's'}`;
  if (r.device === 'webgpu') return 'WebGPU (onnxruntime-web)';
  if (r.engine === 'cpu') return `CPU engine (${r.simd === 'relaxed' ? 'relaxed SIMD' : 'WASM SIMD'}), ${threads}`;
  return `onnxruntime-web wasm, ${threads}`;
}
