import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxDecoder } from '../../src/build/decoder.ts';
import { compressModel } from '../../src/compress/pipeline.ts';
import { CpuModelLoader } from '../../src/engine/cpu-model-loader.ts';
import type { EngineModules } from '../../src/engine/engine-module.ts';
import { createRtnQuantizer } from '../../src/kernels/quantize/index.ts';
import type { CausalLM } from '../../src/model/causal-lm.ts';
import { ReferenceModel } from '../../src/model/reference-forward.ts';
import { engineModulesNode, nodeThreadSpawner } from '../../src/node/engine-node.ts';
import { loadModelFolder, type LoadedModel } from '../../src/node/model-folder.ts';
import { generate } from '../../src/runtime/generate.ts';
import { createOnnxCausalLM } from '../../src/runtime/onnx-causal-lm.ts';
import { draftedFigures, generateDrafted } from '../../src/runtime/speculative.ts';
import { TextTokenizer } from '../../src/runtime/tokenizer.ts';
import { expectShrinkrayError } from '../expect-shrinkray-error.ts';
import { fixtureTextPath, STORIES_DIR } from './fixture-paths.ts';
import { maxAbsDiff } from './logit-diff.ts';
import { plan } from './plan-recipe.ts';

/**
 * Speculative decoding on the real stories260K: the original (its imported fp32 weights) drafted
 * by compressed copies of itself, on onnxruntime-web and on the CPU engine. Greedy output must
 * be the original's own, token for token, on 20 prompts (the first words of the first 20 eval
 * stories); the original's forward passes per token are printed for each draft.
 */
const DRAFTS = ['int8', 'int4-g32', 'ffn25+int4-g32'] as const;
const MAX_NEW = 40;
let source: LoadedModel;
let tokenizer: TextTokenizer;
let modules: EngineModules;
let prompts: number[][];
const opened: CausalLM[] = [];

beforeAll(async () => {
  source = await loadModelFolder(STORIES_DIR);
  tokenizer = new TextTokenizer(source.tokenizerJson, source.tokenizerConfig, source.ir.config);
  modules = await engineModulesNode();
  const stories = (await readFile(fixtureTextPath('tinystories_eval.txt'), 'utf8')).split('<|endoftext|>').map((s) => s.trim());
  prompts = stories
    .filter((s) => s !== '')
    .slice(0, 20)
    .map((s, i) =>
      tokenizer.encode(
        s
          .split(/\s+/)
          .slice(0, 2 + (i % 5))
          .join(' '),
        { addBos: true },
      ),
    );
});
afterAll(async () => {
  for (const m of opened) await m.dispose();
});

type Runner = 'onnx' | 'cpu';

async function cpuLoader() {
  return CpuModelLoader.create(modules, { threads: 1, spawner: nodeThreadSpawner });
}

async function original(runner: Runner): Promise<CausalLM> {
  let lm: CausalLM;
  if (runner === 'onnx') {
    lm = await createOnnxCausalLM(source.ir.config, (await buildOnnxDecoder(source.ir)).model, [], { device: 'wasm' });
  } else {
    const cpu = await (await cpuLoader()).fromIR(source.ir);
    if ('unsupported' in cpu) throw new Error(String(cpu.unsupported));
    lm = cpu;
  }
  opened.push(lm);
  return lm;
}

async function compressed(runner: Runner, recipe: string): Promise<CausalLM> {
  const r = await compressModel(source.ir, plan(recipe, source.ir.config), { quantizer: await createRtnQuantizer() });
  let lm: CausalLM;
  if (runner === 'onnx') {
    lm = await createOnnxCausalLM(r.config, r.built.model, [], { device: 'wasm' });
  } else {
    const cpu = await (await cpuLoader()).fromGraph(r.config, { name: `${recipe}/model.onnx`, model: r.built.model, externalData: [] });
    if ('unsupported' in cpu) throw new Error(String(cpu.unsupported));
    lm = cpu;
  }
  opened.push(lm);
  return lm;
}

describe.each(['onnx', 'cpu'] as const)('speculative decoding on %s', (runner) => {
  let target: CausalLM;
  let plain: number[][];
  beforeAll(async () => {
    target = await original(runner);
    plain = [];
    for (const p of prompts) plain.push((await generate(target, p, { maxNewTokens: MAX_NEW, stopTokenIds: tokenizer.eosTokenIds })).ids);
  });

  it('truncate rolls the KV cache back: feeding after a cut gives the logits of a fresh pass', async () => {
    const ids = prompts[3]!;
    const fresh = await target.forward(target.createState(), [...ids, 42, 7]);
    const s = target.createState();
    await target.forward(s, [...ids, 99, 100, 101]);
    await target.truncate(s, ids.length);
    expect(s.length).toBe(ids.length);
    const after = await target.forward(s, [42, 7]);
    const vocab = target.config.vocabSize;
    expect(maxAbsDiff(after, fresh.subarray(ids.length * vocab))).toBeLessThan(1e-4);
    await expectShrinkrayError(target.truncate(s, ids.length + 3), 'bad_argument', /the state holds/);
    s.dispose();
  });

  it.each(DRAFTS)('drafted by %s: the original greedy output on 20 prompts, with its passes per token', async (recipe) => {
    const draft = await compressed(runner, recipe);
    let passes = 0;
    let tokens = 0;
    let proposed = 0;
    let accepted = 0;
    for (const [i, p] of prompts.entries()) {
      const streamed: number[] = [];
      const r = await generateDrafted(target, draft, p, {
        maxNewTokens: MAX_NEW,
        stopTokenIds: tokenizer.eosTokenIds,
        draftTokens: 4,
        onToken: (id) => streamed.push(id),
      });
      expect(r.ids, `prompt ${i}`).toEqual(plain[i]);
      expect(streamed).toEqual(r.ids);
      passes += r.targetPasses;
      tokens += r.ids.length;
      proposed += r.proposed;
      accepted += r.accepted;
    }
    const perToken = passes / tokens;
    console.log(
      `[${runner}] draft ${recipe}: ${tokens} tokens, acceptance ${(accepted / proposed).toFixed(3)}, ` +
        `original's forward passes per token ${perToken.toFixed(3)} (plain decoding: 1)`,
    );
    // A draft that agrees at all saves passes; one pass per round can never yield more than k + 1 tokens.
    expect(perToken).toBeLessThan(1);
    expect(perToken).toBeGreaterThanOrEqual(1 / 5);
  });

  it('the original as its own draft: every proposal accepted, k + 1 tokens per pass', async () => {
    const r = await generateDrafted(target, target, [tokenizer.bosTokenId!], { maxNewTokens: 41, draftTokens: 4 });
    expect(r.ids).toEqual((await generate(target, [tokenizer.bosTokenId!], { maxNewTokens: 41 })).ids);
    const f = draftedFigures(r);
    expect(f.acceptanceRate).toBe(1);
    expect(r.targetPasses).toBe(1 + 8); // the prompt's pass, then 8 rounds of 5 tokens
  });
});

describe('drafted generation on the reference model', () => {
  let model: ReferenceModel;
  beforeAll(async () => {
    model = await ReferenceModel.load(source.ir);
  });

  it('matches the reference model with stops, a repetition penalty and limits that end mid-round', async () => {
    const period = tokenizer.encode('.').at(-1)!;
    for (const [maxNewTokens, stopTokenIds, repetitionPenalty] of [
      [7, [], 1],
      [30, [period], 1],
      [25, tokenizer.eosTokenIds, 1.3],
    ] as const) {
      const opts = { maxNewTokens, stopTokenIds, repetitionPenalty };
      const want = await generate(model, prompts[0]!, opts);
      const got = await generateDrafted(model, model, prompts[0]!, { ...opts, draftTokens: 3 });
      expect(got.ids).toEqual(want.ids);
      expect(got.stoppedBy).toBe(want.stoppedBy);
    }
  });

  it('refuses a bad draft length and a draft with another vocabulary', async () => {
    await expectShrinkrayError(generateDrafted(model, model, [1], { maxNewTokens: 4, draftTokens: 0 }), 'bad_argument', /from 1 to 32/);
    const other = { ...model, config: { ...model.config, vocabSize: model.config.vocabSize + 1 } } as unknown as CausalLM;
    await expectShrinkrayError(generateDrafted(model, other, [1], { maxNewTokens: 4 }), 'bad_argument', /vocabulary has 513 entries/);
  });
});
