import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { ShrinkrayError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';

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
    const named = t as { name?: unknown; template?: unknown }[];
    const chosen = named.find((x) => x.name === 'default') ?? named[0];
    return typeof chosen?.template === 'string' ? chosen.template : null;
  }
  return null;
}

/**
 * The model's tokenizer, built from tokenizer.json + tokenizer_config.json with
 * @huggingface/tokenizers (what transformers.js uses), plus the chat template when the
 * model has one. BOS is added by us, never by the tokenizer's post-processor, so every
 * caller says explicitly whether a sequence starts with it.
 */
export class TextTokenizer {
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  readonly chatTemplate: string | null;
  private readonly tokenizer: Tokenizer;
  private readonly specialTokens: Record<string, string> = {};
  private compiledTemplate: Template | null = null;

  /**
   * `config`, when given, supplies BOS/EOS ids the model was trained with; the tokenizer
   * config's bos_token/eos_token fill in what it lacks.
   */
  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>, config?: ModelConfig | null) {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new ShrinkrayError('bad_file', `tokenizer.json could not be loaded: ${(e as Error).message}`, { cause: e });
    }
    for (const key of SPECIAL_TOKEN_KEYS) {
      const token = tokenFromConfig(tokenizerConfig, key);
      if (token !== null) this.specialTokens[key] = token;
    }
    const idOf = (key: string): number | null => {
      const token = this.specialTokens[key];
      return token === undefined ? null : (this.tokenizer.token_to_id(token) ?? null);
    };
    this.bosTokenId = config?.bosTokenId ?? idOf('bos_token');
    const eos = config?.eosTokenId.length ? [...config.eosTokenId] : [];
    const tokenizerEos = idOf('eos_token');
    if (tokenizerEos !== null && !eos.includes(tokenizerEos)) eos.push(tokenizerEos);
    this.eosTokenIds = eos;
    this.chatTemplate = pickChatTemplate(tokenizerConfig);
  }

  /** Token ids of `text`, with BOS in front when asked and the model has one. */
  encode(text: string, opts: { addBos?: boolean } = {}): number[] {
    const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    return opts.addBos && this.bosTokenId !== null ? [this.bosTokenId, ...ids] : ids;
  }

  /** Text of `ids`; special tokens (BOS, EOS, chat markers) are dropped unless asked for. */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''; // the library refuses an empty list
    return this.tokenizer.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? true });
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
      throw new ShrinkrayError('bad_argument', 'tokenizer_config.json has no chat_template; use a plain completion prompt');
    }
    try {
      this.compiledTemplate ??= new Template(this.chatTemplate);
      return this.compiledTemplate.render({
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: opts.addGenerationPrompt ?? true,
        ...this.specialTokens,
      });
    } catch (e) {
      throw new ShrinkrayError('bad_file', `tokenizer_config.json chat_template failed to render: ${(e as Error).message}`, {
        cause: e,
      });
    }
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
    private readonly tokenizer: TextTokenizer,
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
