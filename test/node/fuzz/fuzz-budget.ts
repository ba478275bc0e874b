import fc from 'fast-check';
import { expect } from 'vitest';
import { isShrinkrayError } from '../../../src/errors.ts';

/**
 * The budgets every parser fuzzer (test/node/fuzz/*.test.ts) holds each input to, and the
 * one way they run: a fixed seed, a bounded number of runs, and a property that an input
 * ends in a result or a ShrinkrayError, never another exception, within `msPerInput` of
 * this process's CPU time (not wall time: a loaded machine slows an input, it does not make it
 * work more) and without the process's peak memory (its maximum resident set) growing by
 * more than `peakRssGrowthBytes` over the whole run. Any other outcome fails the test with
 * the shrunk input and the seed to replay it; found failures become fixed cases beside the
 * property (`examples`).
 */
export const FUZZ_BUDGET = Object.freeze({
  /** One seed for every fuzzer, so a run is the same run everywhere. */
  seed: 20261201,
  /** CPU time of one input: these are kilobyte inputs, parsed in microseconds; a second means a hang. */
  msPerInput: 1000,
  /** Growth of the process's peak resident memory over one fuzzer's run: far below what a size taken on trust would allocate. */
  peakRssGrowthBytes: 256 * 1024 * 1024,
});

/** How one input ended. */
export type Outcome = 'result' | 'error';

/** The process's peak resident set so far, in bytes (resourceUsage reports kilobytes; the peak never goes down). */
const peakRss = () => process.resourceUsage().maxRSS * 1024;

/** Runs `body` on one input, within the budgets; a non-Shrinkray exception fails, naming what was thrown. */
export async function withinBudget(body: () => unknown, msPerInput: number = FUZZ_BUDGET.msPerInput): Promise<Outcome> {
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const t0 = cpuMs();
  let outcome: Outcome;
  try {
    await body();
    outcome = 'result';
  } catch (e) {
    if (!isShrinkrayError(e)) {
      throw new Error(`not a ShrinkrayError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
    }
    expect(e.message.length).toBeGreaterThan(0);
    outcome = 'error';
  }
  const ms = cpuMs() - t0;
  if (ms > msPerInput) throw new Error(`took ${ms.toFixed(0)} ms of CPU, above the ${msPerInput} ms budget of one input`);
  return outcome;
}

export interface FuzzRun {
  runs: number;
  /** Inputs that ended in a result, and in a ShrinkrayError. */
  results: number;
  errors: number;
}

/**
 * Asserts `property` over `runs` inputs of `arbitrary` with the fixed seed; checks the peak
 * memory growth at the end, and that both outcomes occurred when `expectBoth` (so a fuzzer
 * that only ever reaches the first check is noticed).
 */
export async function fuzz<T>(
  arbitrary: fc.Arbitrary<T>,
  runs: number,
  body: (input: NoInfer<T>) => unknown,
  o: { examples?: NoInfer<T>[]; msPerInput?: number; expectBoth?: boolean } = {},
): Promise<FuzzRun> {
  const before = peakRss();
  const tally: FuzzRun = { runs: 0, results: 0, errors: 0 };
  await fc.assert(
    fc.asyncProperty(arbitrary, async (input) => {
      const outcome = await withinBudget(() => body(input), o.msPerInput);
      tally.runs++;
      tally[outcome === 'result' ? 'results' : 'errors']++;
    }),
    {
      seed: Number(process.env.SHRINKRAY_FUZZ_SEED ?? FUZZ_BUDGET.seed),
      numRuns: runs * Number(process.env.SHRINKRAY_FUZZ_SCALE ?? 1),
      examples: (o.examples ?? []).map((e) => [e]),
      endOnFailure: true,
    },
  );
  const growth = peakRss() - before;
  expect(growth, `peak memory grew by ${(growth / 2 ** 20).toFixed(0)} MB`).toBeLessThan(FUZZ_BUDGET.peakRssGrowthBytes);
  if (o.expectBoth ?? true) {
    expect(tally.results, 'no input ended in a result: the generator never reaches past the first check').toBeGreaterThan(0);
    expect(tally.errors, 'no input ended in an error: the generator never exercises the checks').toBeGreaterThan(0);
  }
  return tally;
}

/** A copy of `bytes` with up to `maxFlips` bytes replaced, and sometimes cut short: mutations of a valid file. */
export function mutatedBytes(bytes: Uint8Array, maxFlips = 8): fc.Arbitrary<Uint8Array> {
  const last = Math.max(0, bytes.byteLength - 1);
  return fc
    .record({
      flips: fc.array(fc.tuple(fc.nat({ max: last }), fc.integer({ min: 0, max: 255 })), { maxLength: maxFlips }),
      cut: fc.option(fc.nat({ max: bytes.byteLength }), { freq: 4 }),
    })
    .map(({ flips, cut }) => {
      const out = bytes.slice();
      for (const [at, v] of flips) out[at] = v;
      return cut === null ? out : out.slice(0, cut);
    });
}

/** A JSON value at a random path of `base` replaced by an arbitrary JSON value (or deleted), as a fuzzer of a known-good file. */
export function mutatedJson(base: Record<string, unknown>, maxEdits = 3): fc.Arbitrary<Record<string, unknown>> {
  const paths: string[][] = [];
  const walk = (v: unknown, path: string[]) => {
    if (paths.length > 5000) return;
    paths.push(path);
    if (Array.isArray(v)) v.slice(0, 20).forEach((x, i) => walk(x, [...path, String(i)]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v).slice(0, 200)) walk(x, [...path, k]);
  };
  walk(base, []);
  const edit = fc.tuple(
    fc.constantFrom(...paths.filter((p) => p.length > 0)),
    fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)),
  );
  return fc.array(edit, { minLength: 1, maxLength: maxEdits }).map((edits) => {
    const out = structuredClone(base);
    for (const [path, value] of edits) {
      let at: Record<string, unknown> = out;
      for (const key of path.slice(0, -1)) {
        const next = at[key];
        if (!next || typeof next !== 'object') return out;
        at = next as Record<string, unknown>;
      }
      const last = path[path.length - 1]!;
      if (value === undefined) delete at[last];
      else at[last] = value;
    }
    return out;
  });
}
