import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AutoModelForCausalLM, env, LogitsProcessorList, Tensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';
import { transformersJsFolder } from '../../src/formats/transformers-js-folder.ts';
import { toGenerationConfig, toHfConfig } from '../../src/model/hf-config.ts';
import { openHfModel } from '../../src/model/hf-model.ts';
import type { ModelIR } from '../../src/model/ir.ts';
import { folderOpener } from '../../src/node/folder-opener.ts';
import { BUDGET } from '../error-budgets.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { planCompression } from '../../src/compress/plan.ts';
import { parseRecipe } from '../../src/compress/recipe.ts';
import type { BuiltModel } from '../../src/formats/onnx/graph-builder.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { relativeLogitDiff } from './logit-diff.ts';
import {
  GEMMA3_270M,
  independentLogits,
  PHI35_MINI,
  PHI4_MINI,
  SMOLLM3_3B,
  tinyConfigJson,
  writeTinyModel,
  type ArchCase,
} from './arch-models.ts';

/**
 * transformers.js (in Node: onnxruntime-node) loads the folder we write for SmolLM3,
 * Phi-3.5/Phi-4-mini and Gemma 3 (whose position_ids it starts at 1: RoPE is relative, and the
 * masks count from the attention mask, so the logits are the same), from the config.json we write, and its generate() (a 24-token prompt, then
 * decode steps through its KV cache, each forced to the next token of a fixed sequence) gives the
 * logits of the independent float64 forward fed the same calls: NoPE layers (GroupQueryAttention
 * without rotary), LongRoPE's switch (Phi-4-mini with original_max_position_embeddings 26: the
 * steps past 26 positions turn with the long factors, the cached keys keep the short ones) and
 * partial rotary run in its runtime as in ours.
 */
const ids = Array.from({ length: 30 }, (_, i) => (i * 37 + 11) % 320);
const PROMPT = 24;
const STEPS = 6; // rows 23..28: the prompt's last, then one per forced token ids[24..28]

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shrinkray-rope-tjs-'));
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = root + '/';
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tinyModel(c: ArchCase, configJson: Record<string, unknown>): Promise<{ dir: string; ir: ModelIR }> {
  const dir = join(root, 'source', c.name.replace('/', '_'));
  await writeTinyModel(dir, configJson, c.dtype);
  const { open, display } = folderOpener(dir);
  return { dir, ir: (await openHfModel(open, display)).ir };
}

/** The folder the app exports (transformers-js-folder.ts), written under the models root as `name`. */
async function writeFolder(name: string, configJson: Record<string, unknown>, config: ModelConfig, model: BuiltModel): Promise<void> {
  const files = transformersJsFolder({ configJson, generationConfig: toGenerationConfig(config), carried: new Map(), model, report: {} });
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(root, name, path)), { recursive: true });
    await writeFile(join(root, name, path), Array.isArray(bytes) ? Buffer.concat(bytes) : bytes);
  }
}

describe('transformers.js runs the SmolLM3 and Phi-3.5/Phi-4-mini folders we write', () => {
  it.each([
    ['SmolLM3-3B', 'fused', SMOLLM3_3B, {}],
    ['Phi-3.5-mini', 'plain', PHI35_MINI, {}],
    ['Phi-4-mini, LongRoPE switching at 26', 'fused', PHI4_MINI, { original_max_position_embeddings: 26 }],
    ['Phi-4-mini, LongRoPE switching at 26', 'plain', PHI4_MINI, { original_max_position_embeddings: 26 }],
    ['Gemma 3 270M, window 8 on its sliding layer', 'plain', GEMMA3_270M, {}],
    ['Gemma 3 270M, window 8 on its sliding layer', 'fused', GEMMA3_270M, {}],
  ] as const)('%s (%s graph): prefill and decode logits within the budget of the independent forward', async (label, ops, c, fields) => {
    const source = { ...tinyConfigJson(c), ...fields };
    const { dir, ir } = await tinyModel(c, source);
    const built = await buildOnnxDecoder(ir, { ops });
    const name = `${c.name.replace(/\W/g, '_')}_${ops}`;
    await writeFolder(name, { ...source, ...toHfConfig(ir.config) }, ir.config, built);
    const model = await AutoModelForCausalLM.from_pretrained(name, { device: 'cpu', dtype: 'fp32' });
    // Records each step's logits, then forces the step's token to the fixed sequence's next one.
    const rows: Float32Array[] = [];
    const force = new LogitsProcessorList();
    force.push(((_ids: bigint[][], logits: Tensor) => {
      const data = logits.data as Float32Array;
      rows.push(Float32Array.from(data));
      const next = ids[PROMPT + rows.length - 1]!;
      data.fill(-Infinity);
      data[next] = 0;
      return logits;
    }) as never);
    const input = new Tensor('int64', BigInt64Array.from(ids.slice(0, PROMPT).map(BigInt)), [1, PROMPT]);
    const mask = new Tensor('int64', new BigInt64Array(PROMPT).fill(1n), [1, PROMPT]);
    await model.generate({ input_ids: input, attention_mask: mask, max_new_tokens: STEPS, do_sample: false, logits_processor: force });
    await model.dispose();
    const want = (await independentLogits(dir, ids.slice(0, PROMPT + STEPS - 1), [PROMPT, ...Array<number>(STEPS - 1).fill(1)])).logits;
    const worst = relativeLogitDiff(Float32Array.from(rows.flatMap((row) => [...row])), want, PROMPT - 1);
    console.info(`transformers.js, ${label} (${ops}): ${rows.length} steps, worst ${worst.toExponential(2)} of max |logit|`);
    expect(rows).toHaveLength(STEPS);
    expect(worst).toBeLessThan(BUDGET.independentVsEngineRelative);
  });
});

describe('transformers.js runs a compressed Gemma 3 folder (int4-g32+emb4: the embedding quantized and tied to the classifier)', () => {
  it.each(['plain', 'fused'] as const)(
    "%s graph: its greedy ids are our onnxruntime-web runner's, its logits within the budget",
    async (ops) => {
      const source = tinyConfigJson(GEMMA3_270M);
      const { ir } = await tinyModel(GEMMA3_270M, source);
      const r = await compressModel(ir, planCompression(parseRecipe('int4-g32+emb4'), ir.config), {
        quantizer: await createRtnQuantizer(),
        ops,
      });
      const name = `gemma3_int4_emb4_${ops}`;
      await writeFolder(name, toHfConfig(r.config), r.config, r.built);
      const model = await AutoModelForCausalLM.from_pretrained(name, { device: 'cpu', dtype: 'fp32' });
      // Each step's logits recorded, then the step forced to the fixed sequence's next token (greedily, a tiny random model with
      // tied, sqrt(hidden)-scaled embeddings repeats its input): every step's greedy id is compared, over varied inputs.
      const rows: Float32Array[] = [];
      const force = new LogitsProcessorList();
      force.push(((_ids: bigint[][], logits: Tensor) => {
        const data = logits.data as Float32Array;
        rows.push(Float32Array.from(data));
        data.fill(-Infinity);
        data[ids[PROMPT + rows.length - 1]!] = 0;
        return logits;
      }) as never);
      const input = new Tensor('int64', BigInt64Array.from(ids.slice(0, PROMPT).map(BigInt)), [1, PROMPT]);
      const mask = new Tensor('int64', new BigInt64Array(PROMPT).fill(1n), [1, PROMPT]);
      await model.generate({ input_ids: input, attention_mask: mask, max_new_tokens: STEPS, do_sample: false, logits_processor: force });
      await model.dispose();
      const argmax = (row: Float32Array) => row.indexOf(Math.max(...row));
      // Ours: the same graph on onnxruntime-web, fed the same tokens through its KV cache.
      const ort = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
      const s = ort.createState();
      const vocab = r.config.vocabSize;
      const want: number[] = [];
      let worst = 0;
      for (let step = 0; step < STEPS; step++) {
        const logits = await ort.forward(s, step === 0 ? ids.slice(0, PROMPT) : [ids[PROMPT + step - 1]!]);
        const row = logits.subarray(logits.length - vocab);
        rows[step]!.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - row[j]!))));
        want.push(argmax(row));
      }
      await ort.dispose();
      const got = rows.map(argmax);
      console.info(
        `transformers.js, compressed Gemma 3 (${ops}): greedy ${got.join(',')}; ours ${want.join(',')}; worst logit difference ${worst.toExponential(2)}`,
      );
      expect(got).toEqual(want);
      expect(worst).toBeLessThan(BUDGET.engineVsOnnxFp32);
    },
  );
});
