import { describe, expect, it } from 'vitest';
import { parseHfConfig } from '../../src/model/hf-config.ts';
import { modelTensors } from '../../src/model/tensor-table.ts';
import catalogue from '../../src/ui/model-catalogue.json' with { type: 'json' };
import { PUBLISHED } from '../published-configs.ts';

/**
 * The hub box's suggestions (src/ui/model-catalogue.json) against the published configs
 * (test/fixtures/configs/): each one's architecture is read, and the download size it shows
 * is the bf16 weights its config implies plus a safetensors header (at most 64 KiB), so a
 * suggestion never names a model the app refuses or a size off by more than the header.
 */
// Repos that store lm_head.weight although their config ties it to the embedding.
const STORES_TIED_HEAD = new Set(['Qwen/Qwen3-0.6B']);
const WITHOUT_FIXTURE = ['HuggingFaceTB/SmolLM2-360M-Instruct']; // SmolLM2-135M's config with other sizes

describe('suggested hub models', () => {
  const published = new Map(Object.values(PUBLISHED).map((p) => [p.repo, p.json as Record<string, unknown>]));

  it('each has its published config here, but the listed exceptions', () => {
    expect(catalogue.suggested.filter((s) => !published.has(s.repo)).map((s) => s.repo)).toEqual(WITHOUT_FIXTURE);
  });

  it.each(catalogue.suggested.filter((s) => published.has(s.repo)))('$repo: read, and its size is its bf16 weights plus a header', (s) => {
    const config = parseHfConfig(published.get(s.repo)!, `${s.repo}/config.json`);
    const elements = modelTensors(config).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    const head = STORES_TIED_HEAD.has(s.repo) ? config.vocabSize * config.hiddenSize : 0;
    const header = s.bytes - 2 * (elements + head);
    expect(header, `${s.repo}: ${s.bytes} bytes against ${2 * (elements + head)} of weights`).toBeGreaterThan(0);
    expect(header).toBeLessThan(64 * 1024);
  });
});
