import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineChoice } from '../../src/jobs/open-engine.ts';
import { loadEngine } from '../../src/node/load-engine.ts';
import { generate } from '../../src/runtime/generate.ts';
import { STORIES_DIR } from './fixture-paths.ts';

/**
 * Generation stops at every end token a model's files list, on a real model (stories260K)
 * and both engines the CLI and the page run: our CPU engine and onnxruntime-web. Each of
 * three folders makes one ordinary token of the model's own greedy story an end token, in one
 * of the three places publishers put them: config.json's eos_token_id list,
 * generation_config.json's eos_token_id list, tokenizer_config.json's eos_token.
 */
type Json = Record<string, unknown>;
const work = mkdtempSync(join(tmpdir(), 'shrinkray-end-tokens-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const readJson = (dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json;

function variant(name: string, edit: (dir: string) => void): string {
  const dir = join(work, name);
  cpSync(STORIES_DIR, dir, { recursive: true });
  edit(dir);
  return dir;
}

const MAX = 48;
let story: number[]; // the greedy continuation of BOS, up to </s> (2)
let picks: number[]; // three tokens of it, first seen at different places

beforeAll(async () => {
  const engine = await loadEngine(STORIES_DIR, { engine: 'cpu' });
  try {
    const r = await generate(engine.model, [engine.tokenizer.bosTokenId!], { maxNewTokens: MAX, temperature: 0, stopTokenIds: [2] });
    story = r.ids;
  } finally {
    await engine.dispose();
  }
  const firstSeen = [...new Set(story)];
  expect(firstSeen.length).toBeGreaterThan(15);
  picks = [firstSeen[4]!, firstSeen[9]!, firstSeen[14]!];
});

describe.each(['cpu', 'onnx'] as EngineChoice[])('on the %s engine', (kind) => {
  const cases = [
    {
      where: "config.json's eos_token_id list",
      edit: (dir: string, id: number) =>
        writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...readJson(dir, 'config.json'), eos_token_id: [2, id] })),
    },
    {
      where: "generation_config.json's eos_token_id list",
      edit: (dir: string, id: number) =>
        writeFileSync(
          join(dir, 'generation_config.json'),
          JSON.stringify({ ...readJson(dir, 'generation_config.json'), eos_token_id: [2, id] }),
        ),
    },
    {
      where: "tokenizer_config.json's eos_token",
      edit: (dir: string, id: number) => {
        const vocab = (readJson(dir, 'tokenizer.json').model as { vocab: Record<string, number> }).vocab;
        const piece = Object.keys(vocab).find((k) => vocab[k] === id)!;
        writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...readJson(dir, 'tokenizer_config.json'), eos_token: piece }));
      },
    },
  ];

  it.each(cases.map((c, i) => [c.where, i] as const))(
    'stops at a token named in %s',
    async (where, i) => {
      const id = picks[i]!;
      const dir = variant(`${kind}-${i}`, (d) => cases[i]!.edit(d, id));
      const engine = await loadEngine(dir, { engine: kind });
      try {
        expect(engine.kind).toBe(kind);
        expect(engine.tokenizer.eosTokenIds).toContain(id);
        expect(engine.tokenizer.eosTokenIds).toContain(2);
        const r = await generate(engine.model, [engine.tokenizer.bosTokenId!], {
          maxNewTokens: MAX,
          temperature: 0,
          stopTokenIds: engine.tokenizer.eosTokenIds,
        });
        expect(r.stoppedBy, where).toBe('eos');
        expect(r.ids).toEqual(story.slice(0, story.indexOf(id)));
      } finally {
        await engine.dispose();
      }
    },
    60_000,
  );
});
