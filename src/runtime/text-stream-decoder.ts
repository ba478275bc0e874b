import type { ModelTokenizer } from './tokenizer.ts';

/**
 * Turns a growing list of token ids into text deltas for streaming. Decoding the whole
 * sequence each time keeps word-boundary spaces right (SentencePiece strips the leading
 * one), and a delta that ends in a partial UTF-8 character waits: byte-fallback tokens
 * (<0xF0>) and byte-level BPE pieces split a character across tokens, and its first bytes
 * alone decode to U+FFFD. Decoding skips the space clean-up, which would rewrite text already
 * emitted (" ," -> ","), so the deltas always add up to the decoded sequence.
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
    this.printed = this.text().length;
  }

  /** Adds one token; returns the text that is now final (often '', never a half character). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.text();
    if (text.endsWith('\uFFFD')) return '';
    return this.take(text);
  }

  /** Whatever is still held back at the end. */
  flush(): string {
    return this.take(this.text());
  }

  private text(): string {
    return this.tokenizer.decode(this.ids, { cleanUpSpaces: false });
  }

  private take(text: string): string {
    const delta = text.slice(this.printed);
    this.printed = Math.max(this.printed, text.length);
    return delta;
  }
}
