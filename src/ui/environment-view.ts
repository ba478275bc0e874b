import { card, el, factTable, type Child } from './element.ts';

/**
 * What this browser offers the compressor and runtime: cross-origin isolation (threads
 * for the wasm backend) and a WebGPU adapter (GPU kernels and the webgpu backend).
 */
export function environmentView(): HTMLElement {
  const { root, body } = card('This browser');
  void describeEnvironment().then((rows) => body.replaceChildren(factTable(rows)));
  return root;
}

function yesNo(ok: boolean, yes: string, no: string): HTMLElement {
  return el('span', { class: ok ? 'ok' : 'warn' }, ok ? yes : no);
}

async function describeEnvironment(): Promise<Array<readonly [string, Child]>> {
  const isolated = globalThis.crossOriginIsolated === true;
  const rows: Array<readonly [string, Child]> = [
    [
      'Cross-origin isolated',
      yesNo(isolated, 'yes: SharedArrayBuffer and wasm threads available', 'no: the wasm backend runs on one thread'),
    ],
    ['CPU threads', navigator.hardwareConcurrency ?? 'unknown'],
  ];
  rows.push(['WebGPU', await describeWebGpu()]);
  return rows;
}

// TypeScript's DOM lib has no WebGPU types yet; this is the little the card reads.
interface AdapterSummary {
  info: { vendor: string; architecture: string; description: string; isFallbackAdapter?: boolean };
  limits: { maxBufferSize: number };
}
type NavigatorWithGpu = Navigator & { gpu?: { requestAdapter(): Promise<AdapterSummary | null> } };

async function describeWebGpu(): Promise<Child> {
  const gpu = (navigator as NavigatorWithGpu).gpu;
  if (!gpu) {
    return yesNo(false, '', 'not available: models run on the wasm backend');
  }
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return yesNo(false, '', 'no adapter found: models run on the wasm backend');
    const { vendor, architecture, description } = adapter.info;
    const name = [vendor, architecture, description].filter(Boolean).join(' / ') || 'unnamed adapter';
    const maxBufferMiB = Math.round(adapter.limits.maxBufferSize / 2 ** 20);
    // A fallback adapter (such as SwiftShader) computes correctly but slowly.
    const kind = adapter.info.isFallbackAdapter ? ', software fallback' : '';
    return yesNo(true, `${name} (max buffer ${maxBufferMiB} MiB${kind})`, '');
  } catch (e) {
    return yesNo(false, '', `adapter request failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
