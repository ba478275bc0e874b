import { Tokenizer } from '@huggingface/tokenizers';
import { ShrinkrayError } from '../errors.ts';
import { printable } from '../formats/printable.ts';
import type { ModelConfig } from '../model/config.ts';
import { ChatTemplate } from './chat-template.ts';
import { TOKENIZER_BUDGET } from './tokenizer-budget.ts';

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
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  applyChatTemplate(messages: readonly ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
  /** Frees what the tokenizer holds beyond memory (a worker thread); absent when there is nothing. */
  dispose?(): Promise<void>;
}

/** How errors name the tokenizer's files (paths in Node, folder paths elsewhere). */
export interface TokenizerFileNames {
  tokenizer: string;
  tokenizerConfig: string;
  /** Where the chat template came from: tokenizer_config.json, or chat_template.jinja beside it. */
  chatTemplate: string;
}

const DEFAULT_NAMES: TokenizerFileNames = {
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  chatTemplate: 'tokenizer_config.json',
};

/**
 * The model's tokenizer, built from tokenizer.json + tokenizer_config.json with
 * @huggingface/tokenizers (what transformers.js uses), plus the chat template when the
 * model has one. BOS is added by us, never by the tokenizer's post-processor, so every
 * caller says explicitly whether a sequence starts with it. Templating runs within
 * TOKENIZER_BUDGET (chat-template.ts); encoded ids are checked against the model's vocabulary.
 */
export class TextTokenizer implements ModelTokenizer {
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  readonly chatTemplate: string | null;
  private readonly tokenizer: Tokenizer;
  private readonly specialTokens: Record<string, string> = {};
  /** How errors name the tokenizer's files. */
  readonly names: TokenizerFileNames;
  private readonly vocabSize: number | null;
  private compiledTemplate: ChatTemplate | null = null;

  /**
   * `config`, when given, supplies BOS/EOS ids the model was trained with; the tokenizer
   * config's bos_token/eos_token fill in what it lacks.
   */
  constructor(
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
    config?: ModelConfig | null,
    names: Partial<TokenizerFileNames> = {},
  ) {
    this.names = { ...DEFAULT_NAMES, ...names };
    this.vocabSize = config?.vocabSize ?? null;
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new ShrinkrayError(
        'bad_file',
        `${this.names.tokenizer} could not be loaded: ${printable(String((e as Error)?.message ?? e), 300)}`,
        { cause: e },
      );
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
    this.bosTokenId = config?.bosTokenId ?? idOf('bos_token');
    const eos = config?.eosTokenId.length ? [...config.eosTokenId] : [];
    const tokenizerEos = idOf('eos_token');
    if (tokenizerEos !== null && !eos.includes(tokenizerEos)) eos.push(tokenizerEos);
    this.eosTokenIds = eos;
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
      throw new ShrinkrayError(
        'bad_file',
        `${this.names.tokenizer} failed to encode the text: ${printable(String((e as Error)?.message ?? e), 300)}`,
        { cause: e },
      );
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
    return opts.addBos && this.bosTokenId !== null ? [this.bosTokenId, ...ids] : ids;
  }

  /** Text of `ids`; special tokens (BOS, EOS, chat markers) are dropped unless asked for. */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''; // the library refuses an empty list
    try {
      return this.tokenizer.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? true });
    } catch (e) {
      throw new ShrinkrayError(
        'bad_file',
        `${this.names.tokenizer} failed to decode token ids: ${printable(String((e as Error)?.message ?? e), 300)}`,
        { cause: e },
      );
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
      ...this.specialTokens,
    });
  }
}

/**
 * Turns a growing list of token ids into text deltas for streaming. Decoding the whole
 * sequence each time keeps word-boundary spaces right (SentencePiece strips the leading
 * one), and a delta that ends in a partial UTF-8 character (byte-fallback tokens) waits.
 */
export class TextStreamDecoder {
  private readonly ids: number[];
  private printed: number;

  /** `prefixIds` (e.g. the prompt) are context only: their text is never emitted. */
  constructor(
    private readonly tokenizer: ModelTokenizer,
    prefixIds: readonly number[] = [],
  ) {
    this.ids = [...prefixIds];
    this.printed = tokenizer.decode(this.ids).length;
  }

  /** Adds one token; returns the text that is now final (often '', never a half character). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.tokenizer.decode(this.ids);
    if (text.endsWith('\uFFFD')) return '';
    return this.take(text);
  }

  /** Whatever is still held back at the end. */
  flush(): string {
    return this.take(this.tokenizer.decode(this.ids));
  }

  private take(text: string): string {
    const delta = text.slice(this.printed);
    this.printed = Math.max(this.printed, text.length);
    return delta;
  }
}
