import { ShrinkrayError } from '../errors.ts';
import { quoted } from '../formats/printable.ts';
import { ORT_WEB_MATMUL_NBITS_BITS } from '../kernels/quantize/runtime-support.ts';

/**
 * The step vocabulary of the recipe grammar: one table entry per step kind, each with the
 * syntax shown to users, a loose pattern that recognizes the family (so that `int9` gets
 * "bad bit width" rather than "unknown step"), and a strict parser. New methods (GPTQ, AWQ,
 * Wanda, SparseGPT) slot in as new rows; until then PLANNED_STEPS names them in errors.
 */

export type WeightDtype = 'fp32' | 'fp16';

/** Round-to-nearest block quantization of the linear layers of every decoder block. */
export interface QuantSpec {
  method: 'rtn'; // later: 'gptq' | 'awq'
  bits: number; // 2..8
  blockSize: number; // 16 | 32 | 64 | 128 | 256, along the input dimension K
  symmetric: boolean; // false: per-block zero point (-asym)
}

export type PruneStep =
  | { kind: 'magnitude'; sparsity: number; scope: 'row' } // unstructured, fraction 0.01..0.99 of each output row
  | { kind: 'nm'; n: number; m: number } // keep n of every m along K
  | { kind: 'ffn'; fraction: number } // structured: FFN channels removed per layer
  | { kind: 'heads'; fraction: number }; // structured: KV groups removed per layer

/** One parsed step, tagged with the slot it fills (at most one step per slot). */
export type RecipeStep =
  | { slot: 'dtype'; dtype: WeightDtype }
  | { slot: 'quant'; quant: QuantSpec }
  | { slot: 'embed'; bits: 4 | 8 }
  | { slot: 'sparsity'; prune: Extract<PruneStep, { kind: 'magnitude' | 'nm' }> }
  | { slot: 'ffn'; prune: Extract<PruneStep, { kind: 'ffn' }> }
  | { slot: 'heads'; prune: Extract<PruneStep, { kind: 'heads' }> };

export type StepSlot = RecipeStep['slot'];

/** What each slot sets, for the "two steps of one kind" error. */
export const SLOT_MEANING: Readonly<Record<StepSlot, string>> = Object.freeze({
  dtype: 'the weight storage type',
  quant: 'the weight quantization',
  embed: 'the embedding quantization',
  sparsity: 'the unstructured sparsity',
  ffn: 'the FFN channel pruning',
  heads: 'the attention head pruning',
});

export const BIT_WIDTHS = Object.freeze([2, 3, 4, 5, 6, 7, 8]);
export const BLOCK_SIZES = Object.freeze([16, 32, 64, 128, 256]);
export const NM_GROUP_SIZES = Object.freeze([4, 8, 16]);
export const DEFAULT_BLOCK_SIZE = 32;

interface StepParser {
  syntax: string; // as listed in "known steps"
  family: RegExp; // the step belongs to this parser when this matches
  parse(token: string, fail: (why: string) => never): RecipeStep;
}

/** A whole percentage 1..99 from `mag50`, `mag-50` or `mag50%`. */
function percent(token: string, prefix: string, fail: (why: string) => never): number {
  const m = new RegExp(`^${prefix}-?(\\d+)%?$`).exec(token);
  if (!m) return fail(`does not match ${prefix}{1..99}`);
  const p = Number(m[1]);
  if (p < 1 || p > 99) return fail(`removes ${p}%; allowed ${prefix}1..${prefix}99`);
  return p;
}

export const STEP_PARSERS: readonly StepParser[] = Object.freeze([
  {
    syntax: 'fp32, fp16',
    family: /^fp\d*$/,
    parse: (t, fail) => {
      if (t !== 'fp32' && t !== 'fp16') return fail('is not a storage type; allowed fp32, fp16');
      return { slot: 'dtype', dtype: t };
    },
  },
  {
    syntax: `int{${BIT_WIDTHS[0]}..${BIT_WIDTHS.at(-1)}}[-g{${BLOCK_SIZES.join('|')}}][-asym]`,
    family: /^int/,
    parse: (t, fail) => {
      const m = /^int(\d+)(?:-g(\d+))?(-asym)?$/.exec(t);
      if (!m) return fail(`does not match int{2..8}[-g{${BLOCK_SIZES.join('|')}}][-asym]`);
      const bits = Number(m[1]);
      if (!BIT_WIDTHS.includes(bits)) return fail(`has bit width ${bits}; allowed int2..int8`);
      // Valid MatMulNBits widths that onnxruntime-web cannot run are refused here, before any work.
      if (!ORT_WEB_MATMUL_NBITS_BITS.includes(bits)) {
        return fail(
          `has bit width ${bits}: onnxruntime-web's MatMulNBits runs only ${ORT_WEB_MATMUL_NBITS_BITS.map((b) => `int${b}`).join(', ')}`,
        );
      }
      const blockSize = m[2] === undefined ? DEFAULT_BLOCK_SIZE : Number(m[2]);
      if (!BLOCK_SIZES.includes(blockSize))
        return fail(`has block size ${blockSize}; allowed ${BLOCK_SIZES.map((b) => `-g${b}`).join(', ')}`);
      return { slot: 'quant', quant: { method: 'rtn', bits, blockSize, symmetric: m[3] === undefined } };
    },
  },
  {
    syntax: 'emb4, emb8',
    family: /^emb/,
    parse: (t, fail) => {
      if (t !== 'emb4' && t !== 'emb8') return fail('is not an embedding quantization; allowed emb4, emb8');
      return { slot: 'embed', bits: t === 'emb4' ? 4 : 8 };
    },
  },
  {
    syntax: 'mag{1..99}',
    family: /^mag/,
    parse: (t, fail) => ({ slot: 'sparsity', prune: { kind: 'magnitude', sparsity: percent(t, 'mag', fail) / 100, scope: 'row' } }),
  },
  {
    syntax: `{N}:{M} (M in ${NM_GROUP_SIZES.join('|')}, 1 <= N < M)`,
    family: /:/,
    parse: (t, fail) => {
      const m = /^(\d+):(\d+)$/.exec(t);
      if (!m) return fail('does not match {N}:{M}, e.g. 2:4');
      const n = Number(m[1]),
        groupSize = Number(m[2]);
      if (!(n >= 1 && n < groupSize)) return fail(`keeps N=${n} of M=${groupSize}; N must be at least 1 and less than M`);
      if (!NM_GROUP_SIZES.includes(groupSize)) return fail(`has group size M=${groupSize}; allowed M = ${NM_GROUP_SIZES.join(', ')}`);
      return { slot: 'sparsity', prune: { kind: 'nm', n, m: groupSize } };
    },
  },
  {
    syntax: 'ffn{1..99}',
    family: /^ffn/,
    parse: (t, fail) => ({ slot: 'ffn', prune: { kind: 'ffn', fraction: percent(t, 'ffn', fail) / 100 } }),
  },
  {
    syntax: 'heads{1..99}',
    family: /^heads/,
    parse: (t, fail) => ({ slot: 'heads', prune: { kind: 'heads', fraction: percent(t, 'heads', fail) / 100 } }),
  },
]);

/** Methods from DESIGN.md that are recognized by name but not implemented yet. */
const PLANNED_STEPS: ReadonlyArray<[RegExp, string]> = [
  [/^gptq/, 'GPTQ'],
  [/^awq/, 'AWQ'],
  [/^wanda/, 'Wanda'],
  [/^sparsegpt/, 'SparseGPT'],
];

/** How much of a recipe an error repeats: enough to see the mistake, never a pasted page (made printable, too). */
export const RECIPE_ECHO_CHARS = 80;

export const KNOWN_STEPS = STEP_PARSERS.map((p) => p.syntax).join(', ');

/** Parses one `+`-separated token (already trimmed and lower-cased). */
export function parseStep(token: string, recipe: string): RecipeStep {
  const fail = (why: string): never => {
    throw new ShrinkrayError('bad_recipe', `recipe ${quoted(recipe, RECIPE_ECHO_CHARS)}: step ${quoted(token, RECIPE_ECHO_CHARS)} ${why}`);
  };
  const parser = STEP_PARSERS.find((p) => p.family.test(token));
  if (parser) return parser.parse(token, fail);
  const planned = PLANNED_STEPS.find(([re]) => re.test(token));
  if (planned) return fail(`uses ${planned[1]}, which is not implemented yet. Known steps: ${KNOWN_STEPS}`);
  return fail(`is unknown. Known steps: ${KNOWN_STEPS}`);
}
