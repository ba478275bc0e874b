/**
 * A text's documents (separated by `<|endoftext|>`, each trimmed, empty ones dropped), cut
 * into pieces of at most PIECE_CHARS characters for the tokenizer, and read as it arrives
 * (blocks of a file, or one whole string: the cuts are the same). A tokenizer's cost grows
 * faster than linearly with the length of one call's text (a BPE word of 16 MB took 3 GB), so
 * a piece is bounded: a document longer than that is cut before a whitespace character in its
 * second half, or hard at the bound when it has none (one giant word). A document that fits is
 * one piece, so ordinary texts tokenize exactly as whole documents.
 */
export const DOCUMENT_SEPARATOR = '<|endoftext|>';

/** Characters of one piece: a tokenizer encodes this many in well under a second (16 K chars of prose in 0.1 s on stories260K's). */
export const PIECE_CHARS = 16 * 1024;

export interface TextPiece {
  text: string;
  /** Whether this piece opens its document (it takes the BOS). */
  first: boolean;
  /** The document's index among the non-empty ones. */
  doc: number;
}

// \s is exactly the set String.prototype.trim removes.
const isSpace = (ch: string) => /\s/.test(ch);
const NON_SPACE = /\S/g;

/** Where to cut `s` (longer than PIECE_CHARS): before the last whitespace in its second half, else at the bound. */
function cutAt(s: string): number {
  for (let i = PIECE_CHARS; i > PIECE_CHARS / 2; i--) if (isSpace(s[i]!)) return i;
  const code = s.charCodeAt(PIECE_CHARS - 1);
  return code >= 0xd800 && code <= 0xdbff ? PIECE_CHARS - 1 : PIECE_CHARS; // never between a surrogate pair
}

export class DocumentPieces {
  private pending = '';
  private inDoc = false; // pieces of the current document were already given
  private docs = 0;
  private blankTo = 0; // pending[PIECE_CHARS, blankTo) is known to be whitespace

  private stopped = false;

  /** `emit` returns false when it needs no more pieces: the rest of the text is then skipped, not cut. */
  constructor(private readonly emit: (piece: TextPiece) => boolean | void) {}

  /** Takes the next block of the text; gives every piece it completes. */
  push(block: string): void {
    if (this.stopped) return;
    this.pending += block;
    for (;;) {
      if (this.stopped) return;
      const at = this.pending.indexOf(DOCUMENT_SEPARATOR);
      if (at < 0) break;
      this.finishDoc(this.pending.slice(0, at));
      this.pending = this.pending.slice(at + DOCUMENT_SEPARATOR.length);
    }
    // A long document still arriving: give its pieces once what follows them is surely in the document
    // (a non-space beyond the piece, before a separator that may be arriving in parts).
    while (!this.stopped) {
      if (!this.inDoc) {
        const trimmed = this.pending.trimStart();
        if (trimmed.length !== this.pending.length) [this.pending, this.blankTo] = [trimmed, 0];
      }
      const safe = this.pending.length - DOCUMENT_SEPARATOR.length;
      if (safe <= PIECE_CHARS) break;
      NON_SPACE.lastIndex = Math.max(PIECE_CHARS, this.blankTo); // what an earlier push found blank is not scanned again
      const next = NON_SPACE.exec(this.pending)?.index ?? Infinity;
      if (next >= safe) {
        this.blankTo = safe;
        break;
      }
      const cut = cutAt(this.pending);
      this.give(this.pending.slice(0, cut));
      this.pending = this.pending.slice(cut);
      this.blankTo = 0;
    }
  }

  /** The text has ended: gives the last document's pieces. */
  end(): void {
    this.finishDoc(this.pending);
    this.pending = '';
  }

  private finishDoc(raw: string): void {
    this.blankTo = 0;
    let doc = this.inDoc ? raw.trimEnd() : raw.trim();
    while (doc.length > PIECE_CHARS && !this.stopped) {
      const cut = cutAt(doc);
      this.give(doc.slice(0, cut));
      doc = doc.slice(cut);
    }
    if (doc.length > 0 && !this.stopped) this.give(doc);
    if (this.inDoc) this.docs++;
    this.inDoc = false;
  }

  private give(text: string): void {
    if (this.emit({ text, first: !this.inDoc, doc: this.docs }) === false) {
      this.stopped = true;
      this.pending = '';
    }
    this.inDoc = true;
  }
}

/** The pieces of a whole text, in order. */
export function documentPieces(text: string): TextPiece[] {
  const out: TextPiece[] = [];
  const pieces = new DocumentPieces((p) => void out.push(p));
  pieces.push(text);
  pieces.end();
  return out;
}
