// Internal: the numbered string ids of an IdSet ("doc-0", "doc-1", …, or
// "17"): a prefix and a decimal number, kept as bits of one bitmap per prefix.
// A corpus's ids are most often of this form; a bit each is far cheaper than
// hashing, comparing and storing the id's bytes (and a bitmap is read and
// written where the last id was, not at a random place in a big table).
//
// Which ids are numbered is a function of the id and of prefixes registered
// before it, which are never removed, so an id is always looked for where it
// was stored: an id is numbered when its longest run of trailing digits is a
// number written without leading zeros below NUMBER_LIMIT and its prefix (what
// comes before) is one of the first MAX_PREFIXES prefixes seen.

/** Numbers at or above this are not numbered ids (a bitmap is at most 2 MiB). */
const NUMBER_LIMIT = 1 << 24;
/** The most prefixes with a bitmap: a corpus usually has one; the rest go by hash. */
const MAX_PREFIXES = 4;

/** One prefix's numbers, as bits. */
interface Numbered {
  prefix: string;
  bits: Uint32Array;
}

/** A set of numbered ids; {@linkcode NumberedIds.add} and `has` answer `undefined` for any other id. */
export class NumberedIds {
  #prefixes: Numbered[] = [];

  /** Whether `id` is in the set; `undefined` when it is not a numbered id. */
  has(id: string): boolean | undefined {
    const split = numberAt(id);
    if (split < 0) return undefined;
    const numbered = this.#find(id, split);
    if (numbered === undefined) return this.#canRegister() ? false : undefined;
    const n = numberOf(id, split);
    const word = n >>> 5;
    return word < numbered.bits.length && (numbered.bits[word]! & (1 << (n & 31))) !== 0;
  }

  /** Adds `id`; `false` if it was there already, `undefined` when it is not a numbered id. */
  add(id: string): boolean | undefined {
    const split = numberAt(id);
    if (split < 0) return undefined;
    let numbered = this.#find(id, split);
    if (numbered === undefined) {
      if (!this.#canRegister()) return undefined;
      numbered = { prefix: id.slice(0, split), bits: new Uint32Array(64) };
      this.#prefixes.push(numbered);
    }
    const n = numberOf(id, split);
    const word = n >>> 5;
    if (word >= numbered.bits.length) {
      const grown = new Uint32Array(Math.max(word + 1, numbered.bits.length * 2));
      grown.set(numbered.bits);
      numbered.bits = grown;
    }
    const mask = 1 << (n & 31);
    if ((numbered.bits[word]! & mask) !== 0) return false;
    numbered.bits[word]! |= mask;
    return true;
  }

  #canRegister(): boolean {
    return this.#prefixes.length < MAX_PREFIXES;
  }

  /** The registered prefix that is `id`'s first `split` characters, if any. */
  #find(id: string, split: number): Numbered | undefined {
    for (const numbered of this.#prefixes) {
      if (numbered.prefix.length === split && id.startsWith(numbered.prefix)) return numbered;
    }
    return undefined;
  }
}

/**
 * Where `id`'s number starts (its longest run of trailing digits), or -1
 * when it has none, or one with a leading zero, or one of NUMBER_LIMIT or more.
 */
function numberAt(id: string): number {
  let start = id.length;
  while (start > 0 && isDigit(id.charCodeAt(start - 1))) start--;
  const digits = id.length - start;
  if (digits === 0 || digits > 8) return -1; // 8 digits: below 10^8, then checked against the limit
  if (digits > 1 && id.charCodeAt(start) === 0x30) return -1;
  return numberOf(id, start) < NUMBER_LIMIT ? start : -1;
}

function numberOf(id: string, start: number): number {
  let n = 0;
  for (let i = start; i < id.length; i++) n = n * 10 + id.charCodeAt(i) - 0x30;
  return n;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
