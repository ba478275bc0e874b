import { Tokenizer } from '@huggingface/tokenizers';
import { ShrinkrayError } from '../errors.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { printable } from '../formats/printable.ts';
import type { ModelConfig } from '../model/config.ts';
import { ChatTemplate } from './chat-template.ts';
import { endTokenIds } from './end-tokens.ts';
import { TOKENIZER_BUDGET } from './tokenizer-budget.ts';
import { checkTokenizerFit } from './tokenizer-vocab.ts';

export interface ChatMessage {
  role: string; // 'system' | 'user' | 'assistant' in most templates
  content: string;
}

const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

/** A special token as tokenizer_config.json writes it: a string or an AddedToken object. */
function tokenFromConfig(config: Record<string, unknown>, key: string): string | null {
  const item = config[key];
  if (typeof item === 'string' && item !== '') return item;
  if (item && typeof item === 'object' && typeof (item as { content?: unknown }).content === 'string') {
    return (item as { content: string }).content;
  }
  return null;
}

const describe = (e: unknown) => printable(String((e as Error)?.message ?? e), 300);

/** tokenizer_config.json's chat_template: one string, or a list of named templates. */
function pickChatTemplate(config: Record<string, unknown>): string | null {
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    // Only the {name, template} entries count: anything else in the list is ignored (found by the fuzzer: null entries).
    const named = t.filter((x): x is { name?: unknown; template?: unknown } => typeof x === 'object' && x !== null);
    const chosen = named.find((x) => x.name === 'default') ?? named[0];
    return typeof chosen?.template === 'string' ? chosen.template : null;
  }
  return null;
}

/** What the generate loop, perplexity and the CLI need of a tokenizer (TextTokenizer, or one guarded on another thread). */
export interface ModelTokenizer {
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  readonly hasChatTemplate: boolean;
  encode(text: string, opts?: { addBos?: boolean }): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  applyChatTemplate(messages: readonly ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
  /** Frees what the tokenizer holds beyond memory (a worker thread); absent when there is nothing. */
  dispose?(): Promise<void>;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, chat markers); default true. */
  skipSpecialTokens?: boolean;
  /**
   * tokenizer_config.json's clean_up_tokenization_spaces (" ." -> ".", " ?" -> "?", " n't" ->
   * "n't") unless false. Llama 3 turns it on; it rewrites code (`a ?? b`) and makes the text of
   * a sequence differ from its prefix's text plus the rest, so streaming turns it off.
   */
  cleanUpSpaces?: boolean;
}

/** How errors name the tokenizer's files (paths in Node, folder paths elsewhere). */
export interface TokenizerFileNames {
  tokenizer: string;
  tokenizerConfig: string;
  /** Where the chat template came from: tokenizer_config.json, or chat_template.jinja beside it. */
  chatTemplate: string;
  config: string;
  generationConfig: string;
}

const DEFAULT_NAMES: TokenizerFileNames = {
  tokenizer: MODEL_FILES.tokenizer,
  tokenizerConfig: MODEL_FILES.tokenizerConfig,
  chatTemplate: MODEL_FILES.tokenizerConfig,
  config: MODEL_FILES.config,
  generationConfig: MODEL_FILES.generationConfig,
};

/**
 * The ids the tokenizer's post-processor puts before a text when transformers.js encodes it
 * with special tokens (Llama 2 <s>, Gemma <bos>, Llama 3.1 <|begin_of_text|>; nothing for
 * Qwen's ByteLevel one), found by encoding one character both ways. Null when tokenizer.json
 * has no post-processor at all: it then says nothing, and the config decides.
 */
function leadingSpecialIds(tokenizer: Tokenizer, tokenizerJson: Record<string, unknown>): number[] | null {
  if (tokenizerJson.post_processor === null || tokenizerJson.post_processor === undefined) return null;
  const plain = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const full = tokenizer.encode('a', { add_special_tokens: true }).ids;
  for (let at = 0; at + plain.length <= full.length; at++) {
    if (plain.every((id, i) => full[at + i] === id)) return full.slice(0, at);
  }
  return [];
}

/**
 * The model's tokenizer, built from tokenizer.json + tokenizer_config.json with
 * @huggingface/tokenizers (what transformers.js uses), plus the chat template when the
 * model has one. Every caller says whether a sequence starts with BOS (addBos); what BOS is
 * follows transformers.js: the ids tokenizer.json's post-processor puts in front (none for
 * Qwen), or, where tokenizer.json has no post-processor, config.json's bos_token_id unless
 * tokenizer_config.json says add_bos_token: false. Stop ids are every end token the files
 * list (end-tokens.ts). Templating runs within TOKENIZER_BUDGET (chat-template.ts); with a
 * config, the tokenizer is checked to fit the embedding (tokenizer-vocab.ts) and encoded ids
 * against the model's vocabulary.
 */
export class TextTokenizer implements ModelTokenizer {
  /** The id addBos puts first, or null when this model's texts start without one. */
  readonly bosTokenId: number | null;
  /** Generation stops at any of these (end-tokens.ts). */
  readonly eosTokenIds: number[];
  readonly chatTemplate: string | null;
  private readonly tokenizer: Tokenizer;
  private readonly specialTokens: Record<string, string> = {};
  /** How errors name the tokenizer's files. */
  readonly names: TokenizerFileNames;
  private readonly vocabSize: number | null;
  /** What addBos puts before a text (one id in every published tokenizer). */
  private readonly bosIds: number[];
  private compiledTemplate: ChatTemplate | null = null;

  /**
   * `config`, when given, supplies the vocabulary size and the EOS ids the model was trained
   * with, and BOS where tokenizer.json has no post-processor; `generationConfig` adds its EOS ids.
   */
  constructor(
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
    config?: ModelConfig | null,
    names: Partial<TokenizerFileNames> = {},
    generationConfig: Record<string, unknown> | null = null,
  ) {
    this.names = { ...DEFAULT_NAMES, ...names };
    this.vocabSize = config?.vocabSize ?? null;
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new ShrinkrayError('bad_file', `${this.names.tokenizer} could not be loaded: ${describe(e)}`, { cause: e });
    }
    for (const key of SPECIAL_TOKEN_KEYS) {
      const token = tokenFromConfig(tokenizerConfig, key);
      if (token !== null) this.specialTokens[key] = token;
    }
    const inVocab = (id: number) => this.vocabSize === null || (id >= 0 && id < this.vocabSize);
    const idOf = (key: string): number | null => {
      const token = this.specialTokens[key];
      const id = token === undefined ? null : (this.tokenizer.token_to_id(token) ?? null);
      // A special token the model's embedding has no row for can never be fed or produced.
      return id !== null && inVocab(id) ? id : null;
    };
    let leading: number[] | null;
    try {
      leading = leadingSpecialIds(this.tokenizer, tokenizerJson);
    } catch (e) {
      throw new ShrinkrayError('bad_file', `${this.names.tokenizer} failed to encode a test text: ${describe(e)}`, { cause: e });
    }
    const bos = leading ?? (tokenizerConfig.add_bos_token === false ? [] : [config?.bosTokenId ?? idOf('bos_token')]);
    this.bosIds = bos.filter((id): id is number => id !== null && inVocab(id));
    this.bosTokenId = this.bosIds[0] ?? null;
    this.eosTokenIds = endTokenIds({
      config: config ?? null,
      generationConfig,
      tokenizerEos: idOf('eos_token'),
      generationConfigName: this.names.generationConfig,
    });
    if (config) {
      const { names } = this;
      const named = [
        ...(config.bosTokenId === null ? [] : [{ id: config.bosTokenId, file: names.config, field: 'bos_token_id' }]),
        ...config.eosTokenId.map((id) => ({ id, file: names.config, field: 'eos_token_id' })),
        ...this.eosTokenIds
          .filter((id) => !config.eosTokenId.includes(id))
          .map((id) => ({ id, file: names.generationConfig, field: 'eos_token_id' })),
      ];
      checkTokenizerFit({ tokenizerJson, idToToken: (id) => this.tokenizer.id_to_token(id), config, namedIds: named, names });
    }
    this.chatTemplate = pickChatTemplate(tokenizerConfig);
  }

  /** Token ids of `text`, with BOS in front when asked and the model has one; ids beyond the model's vocabulary are an error naming tokenizer.json. */
  encode(text: string, opts: { addBos?: boolean } = {}): number[] {
    if (text.length > TOKENIZER_BUDGET.encodeChars) {
      throw new ShrinkrayError(
        'bad_argument',
        `a text of ${text.length} characters is above the ${TOKENIZER_BUDGET.encodeChars} one tokenizer call takes; split it`,
      );
    }
    let ids: number[];
    try {
      ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    } catch (e) {
      throw new ShrinkrayError('bad_file', `${this.names.tokenizer} failed to encode the text: ${describe(e)}`, { cause: e });
    }
    if (this.vocabSize !== null) {
      const at = ids.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < this.vocabSize!));
      if (at >= 0) {
        const piece = this.tokenizer.id_to_token(ids[at]!) ?? '?';
        throw new ShrinkrayError(
          'bad_file',
          `${this.names.tokenizer} encodes the text's token ${at} as id ${ids[at]} (${JSON.stringify(printable(piece, 40))}), ` +
            `outside the model's vocabulary of ${this.vocabSize} (config.json vocab_size)`,
        );
      }
    }
    return opts.addBos && this.bosIds.length > 0 ? [...this.bosIds, ...ids] : ids;
  }

  /** Text of `ids`; special tokens (BOS, EOS, chat markers) are dropped unless asked for. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return ''; // the library refuses an empty list
    try {
      return this.tokenizer.decode([...ids], {
        skip_special_tokens: opts.skipSpecialTokens ?? true,
        // null leaves tokenizer_config.json's clean_up_tokenization_spaces in force
        clean_up_tokenization_spaces: opts.cleanUpSpaces === false ? false : null,
      });
    } catch (e) {
      throw new ShrinkrayError('bad_file', `${this.names.tokenizer} failed to decode token ids: ${describe(e)}`, { cause: e });
    }
  }

  /** Whether applyChatTemplate can run; otherwise prompts are plain completions. */
  get hasChatTemplate(): boolean {
    return this.chatTemplate !== null;
  }

  /**
   * Renders a conversation with the model's Jinja chat template, as transformers.js does
   * (same variables). Encode the result with addBos: false: templates write their own BOS.
   */
  applyChatTemplate(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    if (this.chatTemplate === null) {
      throw new ShrinkrayError('bad_argument', `${this.names.tokenizerConfig} has no chat_template; use a plain completion prompt`);
    }
    this.compiledTemplate ??= new ChatTemplate(this.chatTemplate, this.names.chatTemplate);
    return this.compiledTemplate.render({
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: opts.addGenerationPrompt ?? true,
      // As transformers.js passes them: null, not undefined, since templates test `tools is not none`.
      tools: null,
      documents: null,
      ...this.specialTokens,
    });
  }
}
