import { ShrinkrayError } from '../errors.ts';
import { quoted } from '../formats/printable.ts';
import type { SparsityPattern } from '../kernels/calib/gptq.ts';
import { ORT_WEB_MATMUL_NBITS_BITS } from '../kernels/quantize/runtime-support.ts';
import type { DropStep } from './drop/drop-blocks.ts';

/**
 * The step vocabulary of the recipe grammar: one table entry per step kind, each with the
 * syntax shown to users, a loose pattern that recognizes the family (so that `int9` gets
 * "bad bit width" rather than "unknown step"), and a strict parser. The calibrated methods
 * (GPTQ, AWQ, Wanda, SparseGPT) are rows like the others; which steps need calibration
 * text is said by recipeNeedsCalibration (recipe.ts).
 */

export type WeightDtype = 'fp32' | 'fp16';
export type { SparsityPattern } from '../kernels/calib/gptq.ts';

/** Block quantization of the linear layers of every decoder block. */
export interface QuantSpec {
  method: 'rtn' | 'gptq' | 'awq'; // round-to-nearest, GPTQ's error feedback, AWQ's activation-aware scales then RTN
  bits: number; // 2, 3, 4, 8 (3-bit codes are stored in the 4-bit container)
  blockSize: number; // 16 | 32 | 64 | 128 | 256, along the input dimension K
  symmetric: boolean; // false: per-block zero point (-asym)
  actOrder: boolean; // GPTQ only: columns in decreasing order of activation energy (-act)
  floatTargets: boolean; // GPTQ only: match the float model's outputs (default), or each layer's own (-classic)
}

/** Mixed precision: a width per linear matrix, chosen under an average of `bitsPerWeight` stored bits (width-menu.ts). */
export interface MixedSpec {
  bitsPerWeight: number; // 2..16, scales and zero points included
}

export type PruneStep =
  | { kind: 'magnitude'; sparsity: number; scope: 'row' } // unstructured, fraction 0.01..0.99 of each output row
  | { kind: 'nm'; n: number; m: number } // keep n of every m along K
  | { kind: 'wanda'; pattern: SparsityPattern } // scores |W|·‖X‖ per output row (Sun et al. 2023)
  | { kind: 'sparsegpt'; pattern: SparsityPattern } // mask chosen with error feedback (Frantar & Alistarh 2023)
  | { kind: 'ffn'; fraction: number } // structured: FFN channels removed per layer
  | { kind: 'heads'; fraction: number }; // structured: KV groups removed per layer

/** Low-rank factorisation of the linear layers (low-rank.ts): each W [N, K] becomes B [N, r] · A [r, K]. */
export interface LowRankSpec {
  percent: number; // 1..99: the two factors hold at most this share of the layer's N·K weights
  activation: boolean; // -act: SVD of W·S with S Sᵀ = XᵀX of the calibration inputs (SVD-LLM)
}

/** One parsed step, tagged with the slot it fills (at most one step per slot). */
export type RecipeStep =
  | { slot: 'dtype'; dtype: WeightDtype }
  | { slot: 'quant'; quant: QuantSpec }
  | { slot: 'quant'; mixed: MixedSpec }
  | { slot: 'embed'; bits: 4 | 8 }
  | { slot: 'sparsity'; prune: Extract<PruneStep, { kind: 'magnitude' | 'nm' | 'wanda' | 'sparsegpt' }> }
  | { slot: 'ffn'; prune: Extract<PruneStep, { kind: 'ffn' }> }
  | { slot: 'heads'; prune: Extract<PruneStep, { kind: 'heads' }> }
  | { slot: 'drop'; drop: DropStep }
  | { slot: 'lowrank'; lowRank: LowRankSpec };

export type StepSlot = RecipeStep['slot'];

/** What each slot sets, for the "two steps of one kind" error. */
export const SLOT_MEANING: Readonly<Record<StepSlot, string>> = Object.freeze({
  dtype: 'the weight storage type',
  quant: 'the weight quantization',
  embed: 'the embedding quantization',
  sparsity: 'the unstructured sparsity',
  ffn: 'the FFN channel pruning',
  heads: 'the attention head pruning',
  drop: 'the decoder blocks removed',
  lowrank: 'the low-rank factorisation',
});

export const BIT_WIDTHS = Object.freeze([2, 3, 4, 5, 6, 7, 8]);
/** Widths a recipe may ask for: what onnxruntime-web runs, plus 3 bits in the 4-bit container. */
export const RECIPE_BIT_WIDTHS = Object.freeze([...new Set([...ORT_WEB_MATMUL_NBITS_BITS, 3])].sort((a, b) => a - b));
export const BLOCK_SIZES = Object.freeze([16, 32, 64, 128, 256]);
export const NM_GROUP_SIZES = Object.freeze([4, 8, 16]);
export const DEFAULT_BLOCK_SIZE = 32;

interface StepParser {
  syntax: string; // as listed in "known steps"
  family: RegExp; // the step belongs to this parser when this matches
  parse(token: string, fail: (why: string) => never): RecipeStep;
}

/** The int step's body after its method prefix: `int{B}[-g{G}][-asym]` (and `-act` where allowed). */
function quantBody(t: string, method: QuantSpec['method'], fail: (why: string) => never): QuantSpec {
  const prefix = method === 'rtn' ? '' : `${method}-`;
  const gptq = method === 'gptq' ? '(-act)?(-classic)?' : '()()';
  const m = new RegExp(`^${prefix}int(\\d+)(?:-g(\\d+))?(-asym)?${gptq}$`).exec(t);
  const tail = method === 'gptq' ? '[-asym][-act][-classic]' : '[-asym]';
  if (!m) return fail(`does not match ${prefix}int{${RECIPE_BIT_WIDTHS.join(',')}}[-g{${BLOCK_SIZES.join('|')}}]${tail}`);
  const bits = Number(m[1]);
  if (!BIT_WIDTHS.includes(bits)) return fail(`has bit width ${bits}; allowed ${RECIPE_BIT_WIDTHS.map((b) => `int${b}`).join(', ')}`);
  // Valid MatMulNBits widths that onnxruntime-web cannot run are refused here, before any
  // work; 3 bits is stored in the 4-bit container (nbits-codes.ts), so it runs.
  if (!RECIPE_BIT_WIDTHS.includes(bits)) {
    return fail(
      `has bit width ${bits}: onnxruntime-web's MatMulNBits runs only ${ORT_WEB_MATMUL_NBITS_BITS.map((b) => `int${b}`).join(', ')} (and int3 in the 4-bit container)`,
    );
  }
  const blockSize = m[2] === undefined ? DEFAULT_BLOCK_SIZE : Number(m[2]);
  if (!BLOCK_SIZES.includes(blockSize)) return fail(`has block size ${blockSize}; allowed ${BLOCK_SIZES.map((b) => `-g${b}`).join(', ')}`);
  return {
    method,
    bits,
    blockSize,
    symmetric: m[3] === undefined,
    actOrder: m[4] === '-act',
    floatTargets: method === 'gptq' && m[5] === undefined,
  };
}

/** `wanda50`, `wanda-50%`, `wanda-2:4`: a sparsity pattern after the method's name. */
function patternBody(t: string, name: string, fail: (why: string) => never): SparsityPattern {
  const nm = new RegExp(`^${name}-(\\d+):(\\d+)$`).exec(t);
  if (nm) {
    const n = Number(nm[1]),
      m = Number(nm[2]);
    if (!(n >= 1 && n < m)) return fail(`keeps N=${n} of M=${m}; N must be at least 1 and less than M`);
    if (!NM_GROUP_SIZES.includes(m)) return fail(`has group size M=${m}; allowed M = ${NM_GROUP_SIZES.join(', ')}`);
    return { kind: 'nm', n, m };
  }
  if (/:/.test(t)) return fail(`does not match ${name}-{N}:{M}, e.g. ${name}-2:4`);
  return { kind: 'unstructured', sparsity: percent(t, name, fail) / 100 };
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
    syntax: `int{${RECIPE_BIT_WIDTHS.join(',')}}[-g{${BLOCK_SIZES.join('|')}}][-asym]`,
    family: /^int/,
    parse: (t, fail) => ({ slot: 'quant', quant: quantBody(t, 'rtn', fail) }),
  },
  {
    syntax: 'gptq-int{B}[-g{G}][-asym][-act][-classic]',
    family: /^gptq/,
    parse: (t, fail) => ({ slot: 'quant', quant: quantBody(t, 'gptq', fail) }),
  },
  {
    syntax: 'awq-int{B}[-g{G}][-asym]',
    family: /^awq/,
    parse: (t, fail) => ({ slot: 'quant', quant: quantBody(t, 'awq', fail) }),
  },
  {
    syntax: 'bits{2..16} (e.g. bits3.5)',
    family: /^bits/,
    parse: (t, fail) => {
      const m = /^bits(\d+(?:\.\d+)?)$/.exec(t);
      if (!m) return fail('does not match bits{X}, X the average stored bits per linear weight, 2..16 (e.g. bits3.5)');
      const x = Number(m[1]);
      if (x < 2 || x > 16) return fail(`asks for ${x} bits per weight; allowed bits2..bits16 (int2 with its scales is over 2, fp16 is 16)`);
      return { slot: 'quant', mixed: { bitsPerWeight: x } };
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
  // Before {N}:{M}, whose family (any ':') would take `wanda-2:4`.
  {
    syntax: 'wanda{1..99}, wanda-{N}:{M}',
    family: /^wanda/,
    parse: (t, fail) => ({ slot: 'sparsity', prune: { kind: 'wanda', pattern: patternBody(t, 'wanda', fail) } }),
  },
  {
    syntax: 'sparsegpt{1..99}, sparsegpt-{N}:{M}',
    family: /^sparsegpt/,
    parse: (t, fail) => ({ slot: 'sparsity', prune: { kind: 'sparsegpt', pattern: patternBody(t, 'sparsegpt', fail) } }),
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
  {
    syntax: 'drop{N}, drop{N}-bi, drop{N}-last',
    family: /^drop/,
    parse: (t, fail) => {
      const m = /^drop(\d+)(-last|-bi)?$/.exec(t);
      if (!m) return fail('does not match drop{N}, drop{N}-bi or drop{N}-last, e.g. drop2');
      const count = Number(m[1]);
      if (count < 1) return fail(`removes ${count} decoder blocks; remove at least 1 (drop1)`);
      return { slot: 'drop', drop: { count, choose: m[2] === '-last' ? 'last' : m[2] === '-bi' ? 'influence' : 'loss' } };
    },
  },
  {
    syntax: 'lr{1..99}[-act]',
    family: /^lr/,
    parse: (t, fail) => {
      const m = /^lr-?(\d+)%?(-act)?$/.exec(t);
      if (!m) return fail('does not match lr{1..99}[-act], e.g. lr60 or lr60-act');
      const p = Number(m[1]);
      if (p < 1 || p > 99) return fail(`keeps ${p}% of each linear layer's weights; allowed lr1..lr99`);
      return { slot: 'lowrank', lowRank: { percent: p, activation: m[2] === '-act' } };
    },
  },
]);

export const KNOWN_STEPS = STEP_PARSERS.map((p) => p.syntax).join(', ');

/** How much of a recipe an error repeats: enough to see the mistake, never a pasted page (made printable, too). */
export const RECIPE_ECHO_CHARS = 80;

/** Parses one `+`-separated token (already trimmed and lower-cased). */
export function parseStep(token: string, recipe: string): RecipeStep {
  const fail = (why: string): never => {
    throw new ShrinkrayError('bad_recipe', `recipe ${quoted(recipe, RECIPE_ECHO_CHARS)}: step ${quoted(token, RECIPE_ECHO_CHARS)} ${why}`);
  };
  const parser = STEP_PARSERS.find((p) => p.family.test(token));
  if (parser) return parser.parse(token, fail);
  return fail(`is unknown. Known steps: ${KNOWN_STEPS}`);
}
