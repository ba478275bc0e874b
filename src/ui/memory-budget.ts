/**
 * How much memory a job may take in this tab, and whether a job fits, before it starts.
 *
 * The budget comes from what the browser declares: navigator.deviceMemory (Chromium; rounded
 * down to a power of two, and capped, so 8 GB or more draws no limit), or, on iOS and iPadOS, where WebKit kills a tab far below the device's memory, a
 * declared ceiling. Elsewhere (Firefox and desktop Safari declare nothing) the budget is
 * unknown and no job is refused for memory.
 */
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** The share of the declared device memory one tab may use (the OS, the browser and other tabs keep the rest). */
export const DEVICE_MEMORY_SHARE = 0.75;
/**
 * WebKit's per-tab ceiling on iOS: tabs are killed at about 1.5 GB on 4-6 GB iPhones
 * (WebKit's jetsam limit for a web content process); declared, since no API says it.
 */
export const IOS_TAB_CEILING = 1.5 * GiB;
/** Budgets under this count as constrained: the app then proposes the smallest preset. */
export const CONSTRAINED_BELOW = 4 * GiB;
/** The page, its workers, onnxruntime-web and the wasm kernels, before any model. */
export const BASELINE_BYTES = 256 * MiB;

export interface MemoryBudget {
  /** Bytes one job may take at its peak; null when the browser declares nothing. */
  bytes: number | null;
  /** Where the figure comes from, in words, e.g. 'navigator.deviceMemory 2 GB × 0.75'. */
  source: string;
  constrained: boolean;
}

export interface MemoryHints {
  deviceMemoryGB?: number;
  /** iPhone or iPad (an iPad says it is a Mac, with touch points). */
  ios: boolean;
}

export function memoryBudget(h: MemoryHints): MemoryBudget {
  const dm = h.deviceMemoryGB;
  const fromDevice = dm !== undefined && dm > 0 && dm < 8 ? dm * GiB * DEVICE_MEMORY_SHARE : null;
  const fromIos = h.ios ? IOS_TAB_CEILING : null;
  const bytes = fromDevice !== null && fromIos !== null ? Math.min(fromDevice, fromIos) : (fromDevice ?? fromIos);
  let source = 'not declared by this browser: no job is refused for memory';
  if (bytes !== null && bytes === fromIos) source = 'the per-tab ceiling WebKit enforces on iOS, about 1.5 GB';
  else if (bytes !== null) source = `navigator.deviceMemory ${dm} GB × ${DEVICE_MEMORY_SHARE}`;
  else if (dm !== undefined) source = `navigator.deviceMemory ${dm} GB: no limit drawn`;
  return { bytes, source, constrained: bytes !== null && bytes < CONSTRAINED_BELOW };
}

/**
 * A compression job's peak, from the stored model's bytes: compression streams tensor by tensor
 * but its worker peaked at 0.73× the source, and the evaluation that follows loads the original
 * into the CPU engine (its bytes as stored, 16-bit kept 16-bit) beside the page; README's 1.1B
 * measurement (2,202 MB bf16) peaked at 4,073 MB in the renderer, 1.85× the source. Twice the
 * model plus the baseline stays above it.
 */
export function compressPeakBytes(sourceBytes: number): number {
  return 2 * sourceBytes + BASELINE_BYTES;
}

const mb = (n: number) => `${Math.round(n / MiB).toLocaleString('en-US')} MB`;

/** Why a compression of a model of `sourceBytes` cannot start, or null when it fits. */
export function compressRefusal(sourceBytes: number, budget: MemoryBudget): string | null {
  if (budget.bytes === null) return null;
  const peak = compressPeakBytes(sourceBytes);
  if (peak <= budget.bytes) return null;
  return (
    `This job needs about ${mb(peak)} at its peak (twice the model's ${mb(sourceBytes)} plus ${mb(BASELINE_BYTES)} for the app), ` +
    `more than this tab's memory budget of ${mb(budget.bytes)} (${budget.source}). Choose a smaller model, or open Shrinkray on a device with more memory.`
  );
}

/** The preset the Shrink screen starts with: the smallest file where memory is constrained. */
export const DEFAULT_RECIPE = 'int4-g32+emb8';
export const CONSTRAINED_RECIPE = 'int4-g32+emb4';
export function defaultRecipe(budget: MemoryBudget): string {
  return budget.constrained ? CONSTRAINED_RECIPE : DEFAULT_RECIPE;
}
