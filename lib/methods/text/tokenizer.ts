// A word-level tokenizer built from the training captions. The course's captions come from a small
// closed vocabulary (colours, shapes, sizes, positions, Fashion-MNIST class names), so whole words
// are the right unit: no sub-word merges to learn, and every id is readable. The vocabulary travels
// inside the text encoder's config, so every checkpoint carries the tokenizer it was trained with.

/** Special tokens, always the first ids in this order. */
export const PAD = 0;
export const UNK = 1;
export const BOS = 2;
export const EOS = 3;
export const MASK = 4;
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[BOS]', '[EOS]', '[MASK]'] as const;

/** Lower-case words: runs of letters, digits, apostrophes and hyphens (punctuation is dropped). */
export function words(caption: string): string[] {
  if (typeof caption !== 'string') throw new Error(`tokenizer: a caption must be a string, got ${typeof caption}`);
  return caption.toLowerCase().match(/[a-z0-9'-]+/g) ?? [];
}

/** A caption for a message: quoted, and cut to `max` characters (with '…') so a long one stays one line. */
export function quoteCaption(caption: string, max = 80): string {
  const chars = [...caption]; // code points: an emoji is not cut in half
  const one = (chars.length > max ? chars.slice(0, max).join('') + '…' : caption).replace(/\s+/g, ' ');
  return `'${one}'${chars.length > max ? ` (${chars.length} characters)` : ''}`;
}

export interface Encoded {
  /** contextLength ids: [BOS] words... [EOS] [PAD]... */
  ids: Int32Array;
  /** Real tokens (BOS, words, EOS), the rest is padding. */
  length: number;
  /** Words dropped because the caption did not fit. */
  truncated: string[];
  /** Words not in the vocabulary (encoded as [UNK]). */
  unknown: string[];
}

export interface EncodedBatch {
  /** [B * contextLength] ids, row-major. */
  ids: Int32Array;
  /** [B * contextLength]: 1 for real tokens, 0 for padding. */
  mask: Float32Array;
  batch: number;
  contextLength: number;
}

export class Tokenizer {
  private readonly index = new Map<string, number>();
  /** Captions and words already warned about: sampling encodes the same captions at every step. */
  private readonly warned = new Set<string>();

  /** vocab: the special tokens first (SPECIAL_TOKENS), then the words. */
  constructor(
    readonly vocab: readonly string[],
    readonly contextLength: number,
  ) {
    if (!Number.isInteger(contextLength) || contextLength < 3)
      throw new Error(`Tokenizer: contextLength must be an integer >= 3 ([BOS], a word, [EOS]), got ${contextLength}`);
    SPECIAL_TOKENS.forEach((s, i) => {
      if (vocab[i] !== s) throw new Error(`Tokenizer: vocab[${i}] must be '${s}', got '${vocab[i]}'`);
    });
    vocab.forEach((w, i) => {
      if (this.index.has(w)) throw new Error(`Tokenizer: '${w}' appears twice in the vocabulary`);
      this.index.set(w, i);
    });
  }

  /** The vocabulary of these captions (sorted words after the special tokens). */
  static fromCaptions(captions: readonly string[], contextLength: number): Tokenizer {
    const seen = new Set<string>();
    for (const c of captions) for (const w of words(c)) seen.add(w);
    return new Tokenizer([...SPECIAL_TOKENS, ...[...seen].sort()], contextLength);
  }

  get size(): number {
    return this.vocab.length;
  }

  /**
   * [BOS] words [EOS], padded. The empty caption gives [BOS] [EOS]: the "no text" input that
   * classifier-free guidance uses. Words that do not fit are dropped (see `truncated`), unknown
   * words become [UNK] (see `unknown`); callers decide whether to warn (encodeBatch does).
   */
  encode(caption: string): Encoded {
    const ws = words(caption);
    const room = this.contextLength - 2;
    const kept = ws.slice(0, room);
    const ids = new Int32Array(this.contextLength); // PAD = 0
    ids[0] = BOS;
    const unknown: string[] = [];
    kept.forEach((w, i) => {
      const id = this.index.get(w);
      if (id === undefined || id < SPECIAL_TOKENS.length) unknown.push(w);
      ids[i + 1] = id === undefined || id < SPECIAL_TOKENS.length ? UNK : id;
    });
    ids[kept.length + 1] = EOS;
    // Text with no word the model knows (emoji, another script, symbols, only unknown words) would
    // reach the network as [BOS] [UNK]... or [BOS] [EOS]: the empty prompt, silently. Only '' means that.
    if (caption.trim() !== '' && unknown.length === kept.length) {
      const known = this.vocab.slice(SPECIAL_TOKENS.length, SPECIAL_TOKENS.length + 6).join(', ');
      throw new Error(
        `tokenizer: caption ${quoteCaption(caption)} has no word this model knows ` +
          `(${ws.length === 0 ? 'no latin letters or digits' : `unknown: ${ws.slice(0, 5).join(', ')}`}); ` +
          `it would be the empty prompt. The vocabulary is ${this.size - SPECIAL_TOKENS.length} English words (${known}, ...)`,
      );
    }
    return { ids, length: kept.length + 2, truncated: ws.slice(room), unknown };
  }

  /** Encodes many captions; warns about truncated captions and unknown words (once per tokenizer for each). */
  encodeBatch(captions: readonly string[], opts: { warn?: boolean } = {}): EncodedBatch {
    const L = this.contextLength;
    const ids = new Int32Array(captions.length * L);
    const mask = new Float32Array(captions.length * L);
    const truncated: string[] = [];
    const unknown = new Set<string>();
    captions.forEach((c, b) => {
      const e = this.encode(c);
      ids.set(e.ids, b * L);
      mask.fill(1, b * L, b * L + e.length);
      if (e.truncated.length && !this.warned.has(c)) truncated.push(c);
      e.unknown.filter((w) => !this.warned.has(`word:${w}`)).forEach((w) => unknown.add(w));
    });
    if (opts.warn !== false) {
      if (truncated.length)
        console.warn(
          `tokenizer: ${truncated.length} caption(s) longer than ${L - 2} words were truncated (e.g. ${quoteCaption(truncated[0])})`,
        );
      if (unknown.size)
        console.warn(`tokenizer: unknown word(s) encoded as [UNK]: ${[...unknown].slice(0, 10).join(', ')}`);
      truncated.forEach((c) => this.warned.add(c));
      unknown.forEach((w) => this.warned.add(`word:${w}`));
    }
    return { ids, mask, batch: captions.length, contextLength: L };
  }

  /** Ids back to words (padding dropped), for display and tests. */
  decode(ids: ArrayLike<number>): string {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === PAD) continue;
      const w = this.vocab[id];
      if (w === undefined) throw new Error(`Tokenizer.decode: id ${id} outside the vocabulary of ${this.size}`);
      out.push(w);
    }
    return out.join(' ');
  }
}
