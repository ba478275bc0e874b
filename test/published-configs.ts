import gemma3_1b from './fixtures/configs/gemma-3-1b-it.json' with { type: 'json' };
import gemma3_270m from './fixtures/configs/gemma-3-270m-it.json' with { type: 'json' };
import llama32_1b from './fixtures/configs/llama-3.2-1b-instruct.json' with { type: 'json' };
import mistral7bV01 from './fixtures/configs/mistral-7b-v0.1.json' with { type: 'json' };
import mistral7bV03 from './fixtures/configs/mistral-7b-instruct-v0.3.json' with { type: 'json' };
import phi3Mini4k from './fixtures/configs/phi-3-mini-4k-instruct.json' with { type: 'json' };
import phi35Mini from './fixtures/configs/phi-3.5-mini-instruct.json' with { type: 'json' };
import phi4Mini from './fixtures/configs/phi-4-mini-instruct.json' with { type: 'json' };
import qwen25_05b from './fixtures/configs/qwen2.5-0.5b-instruct.json' with { type: 'json' };
import qwen3_06b from './fixtures/configs/qwen3-0.6b.json' with { type: 'json' };
import smollm2_135m from './fixtures/configs/smollm2-135m-instruct.json' with { type: 'json' };
import smollm3_3b from './fixtures/configs/smollm3-3b.json' with { type: 'json' };
import tinyllama11b from './fixtures/configs/tinyllama-1.1b-chat-v1.0.json' with { type: 'json' };

/**
 * Published checkpoints' config.json field sets (test/fixtures/configs/, one file per repo, the
 * fields as the repo publishes them), shared by the tests (architectures, config parsing) and
 * the benches (the large-model shapes): a model's fields are written once. A test that needs a
 * tiny model spreads one and shrinks the sizes; the rest stays as published.
 */
export interface PublishedConfig<T extends object = Record<string, unknown>> {
  /** The Hugging Face repo the fields come from. */
  repo: string;
  /** Its config.json fields, typed as the JSON file holds them. */
  json: Readonly<T>;
}

const published = <T extends object>(repo: string, json: T): PublishedConfig<T> => Object.freeze({ repo, json: Object.freeze(json) });

export const PUBLISHED = Object.freeze({
  llama32_1b: published('meta-llama/Llama-3.2-1B-Instruct', llama32_1b),
  smollm2_135m: published('HuggingFaceTB/SmolLM2-135M-Instruct', smollm2_135m),
  qwen25_05b: published('Qwen/Qwen2.5-0.5B-Instruct', qwen25_05b),
  qwen3_06b: published('Qwen/Qwen3-0.6B', qwen3_06b),
  mistral7bV03: published('mistralai/Mistral-7B-Instruct-v0.3', mistral7bV03),
  mistral7bV01: published('mistralai/Mistral-7B-v0.1', mistral7bV01),
  phi3Mini4k: published('microsoft/Phi-3-mini-4k-instruct', phi3Mini4k),
  tinyllama11b: published('TinyLlama/TinyLlama-1.1B-Chat-v1.0', tinyllama11b),
  smollm3_3b: published('HuggingFaceTB/SmolLM3-3B', smollm3_3b),
  phi35Mini: published('microsoft/Phi-3.5-mini-instruct', phi35Mini),
  phi4Mini: published('microsoft/Phi-4-mini-instruct', phi4Mini),
  gemma3_270m: published('google/gemma-3-270m-it', gemma3_270m),
  gemma3_1b: published('google/gemma-3-1b-it', gemma3_1b),
});
