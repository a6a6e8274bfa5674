// Internal: a set of input ids (strings and numbers) that stays small for
// millions of ids, used by resume (ids already embedded) and by the CLI
// (duplicate ids). Not exported from mod.ts.
//
// A JS Set<string> of 1,000,000 short ids costs around 60 MB (a heap string and
// a hash-table entry each). Here line-number ids (small non-negative integers,
// the common case) are bits in a bitmap, 1,000,000 of them in 125 KB, as are
// numbered string ids such as "doc-17" (a bitmap per prefix, `_numbered_ids.ts`);
// every other id is stored as UTF-8 bytes in one growing byte arena, found through
// an open-addressing table of 32-bit hashes and offsets: about 9 bytes per id
// plus its length. Lookups compare the bytes, so the set is exact. Ids are
// hashed, compared and stored straight from the string's code units (UTF-8
// written by hand, lone surrogates as U+FFFD like TextEncoder): no encoder call
// and no allocation per id.

import { NumberedIds } from "./_numbered_ids.ts";

/** Numbers below this are bits in the bitmap (at most 16 MiB of bitmap). */
const BITMAP_LIMIT = 1 << 27;

/**
 * An exact set of `string | number | bigint` ids; `5` and `"5"` are different
 * ids, and a bigint (an integer beyond 2^53) is the number it writes as.
 */
export class IdSet {
  #bits = new Uint32Array(0);
  readonly #numbered = new NumberedIds();
  #arena = new Uint8Array(1 << 12);
  #arenaLength = 0;
  // Slot i is table[2i] = (offset + 1) of an entry in the arena, 0 when empty,
  // and table[2i + 1] = its hash: side by side, so a probe reads one cache line.
  // Entries are [4-byte length][bytes], the first byte a type tag ("s" string, "n" number).
  #table = new Int32Array(2 << 10);
  #stored = 0;
  #size = 0;

  /** How many ids the set holds. */
  get size(): number {
    return this.#size;
  }

  /** Returns whether `id` is in the set. */
  has(id: string | number | bigint): boolean {
    if (isBitmapId(id)) {
      const word = id >>> 5;
      return word < this.#bits.length && (this.#bits[word]! & (1 << (id & 31))) !== 0;
    }
    if (typeof id === "string") {
      const numbered = this.#numbered.has(id);
      if (numbered !== undefined) return numbered;
    }
    const key = keyText(id);
    const tag = typeof id === "string" ? TAG_STRING : TAG_NUMBER;
    return this.#find(tag, key, hash(tag, key)) >= 0;
  }

  /** Adds `id`; returns `false` if it was already there. */
  add(id: string | number | bigint): boolean {
    if (isBitmapId(id)) {
      const word = id >>> 5;
      if (word >= this.#bits.length) {
        const grown = new Uint32Array(Math.max(word + 1, this.#bits.length * 2, 64));
        grown.set(this.#bits);
        this.#bits = grown;
      }
      const mask = 1 << (id & 31);
      if ((this.#bits[word]! & mask) !== 0) return false;
      this.#bits[word]! |= mask;
      this.#size++;
      return true;
    }
    if (typeof id === "string") {
      const added = this.#numbered.add(id);
      if (added !== undefined) {
        if (added) this.#size++;
        return added;
      }
    }
    const key = keyText(id);
    const tag = typeof id === "string" ? TAG_STRING : TAG_NUMBER;
    const h = hash(tag, key);
    const found = this.#find(tag, key, h);
    if (found >= 0) return false;
    if ((this.#stored + 1) * 8 > this.#table.length * 3) { // load factor 3/4
      this.#rehash();
      return this.add(id);
    }
    const slot = -found - 1;
    const offset = this.#append(tag, key);
    this.#table[2 * slot] = offset + 1;
    this.#table[2 * slot + 1] = h;
    this.#stored++;
    this.#size++;
    return true;
  }

  /** Returns the slot holding the key (>= 0), or `-(free slot) - 1`. */
  #find(tag: number, key: string, h: number): number {
    const table = this.#table;
    const mask = (table.length >>> 1) - 1;
    for (let slot = h & mask;; slot = (slot + 1) & mask) {
      const at = table[2 * slot]!;
      if (at === 0) return -slot - 1;
      if (table[2 * slot + 1] === h && this.#equals(at - 1, tag, key)) return slot;
    }
  }

  #equals(offset: number, tag: number, key: string): boolean {
    const arena = this.#arena;
    const length = arena[offset]! | (arena[offset + 1]! << 8) | (arena[offset + 2]! << 16) |
      (arena[offset + 3]! << 24);
    if (arena[offset + 4] !== tag) return false;
    const end = offset + 4 + length;
    let at = offset + 5;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c < 0x80) {
        if (at >= end || arena[at++] !== c) return false;
        continue;
      }
      const point = codePointAt(key, i);
      if (point > 0xffff) i++;
      const bytes = utf8Length(point);
      if (at + bytes > end) return false;
      for (let b = bytes - 1; b >= 0; b--) {
        if (arena[at++] !== utf8Byte(point, bytes, b)) return false;
      }
    }
    return at === end;
  }

  #append(tag: number, key: string): number {
    const ascii = isAscii(key);
    let length = 1; // the tag
    if (ascii) length += key.length;
    else {
      for (let i = 0; i < key.length; i++) {
        const point = codePointAt(key, i);
        if (point > 0xffff) i++;
        length += utf8Length(point);
      }
    }
    const needed = this.#arenaLength + 4 + length;
    if (needed > this.#arena.length) {
      const grown = new Uint8Array(Math.max(needed, this.#arena.length * 2));
      grown.set(this.#arena.subarray(0, this.#arenaLength));
      this.#arena = grown;
    }
    const arena = this.#arena;
    const offset = this.#arenaLength;
    arena[offset] = length & 0xff;
    arena[offset + 1] = (length >>> 8) & 0xff;
    arena[offset + 2] = (length >>> 16) & 0xff;
    arena[offset + 3] = (length >>> 24) & 0xff;
    arena[offset + 4] = tag;
    let at = offset + 5;
    if (ascii) {
      for (let i = 0; i < key.length; i++) arena[at++] = key.charCodeAt(i); // one byte each
    } else {
      for (let i = 0; i < key.length; i++) {
        const point = codePointAt(key, i);
        if (point > 0xffff) i++;
        const bytes = utf8Length(point);
        for (let b = bytes - 1; b >= 0; b--) arena[at++] = utf8Byte(point, bytes, b);
      }
    }
    this.#arenaLength = needed;
    return offset;
  }

  #rehash(): void {
    const old = this.#table;
    const table = new Int32Array(old.length * 2);
    const mask = (table.length >>> 1) - 1;
    for (let i = 0; i < old.length; i += 2) {
      const at = old[i]!;
      if (at === 0) continue;
      const h = old[i + 1]!;
      let slot = h & mask;
      while (table[2 * slot] !== 0) slot = (slot + 1) & mask;
      table[2 * slot] = at;
      table[2 * slot + 1] = h;
    }
    this.#table = table;
  }
}

/** Whether every code unit of `text` is ASCII (its UTF-8 is its code units). */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

function isBitmapId(id: string | number | bigint): id is number {
  return typeof id === "number" && Number.isInteger(id) && id >= 0 && id < BITMAP_LIMIT;
}

const TAG_STRING = 0x73; // "s"
const TAG_NUMBER = 0x6e; // "n"

function keyText(id: string | number | bigint): string {
  return typeof id === "string" ? id : String(id);
}

/** The code point at `i` (a pair read whole), a lone surrogate as U+FFFD (as TextEncoder does). */
function codePointAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdfff) return c;
  if (c <= 0xdbff && i + 1 < text.length) {
    const next = text.charCodeAt(i + 1);
    if ((next & 0xfc00) === 0xdc00) return ((c - 0xd800) << 10) + (next - 0xdc00) + 0x10000;
  }
  return 0xfffd;
}

function utf8Length(point: number): number {
  return point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
}

/** Byte `b` of `point`'s UTF-8 form, counting from the last (b = 0) to the first (b = bytes - 1). */
function utf8Byte(point: number, bytes: number, b: number): number {
  if (bytes === 1) return point;
  if (b === bytes - 1) return ((0xf00 >> bytes) & 0xff) | (point >> (6 * b));
  return 0x80 | ((point >> (6 * b)) & 0x3f);
}

/**
 * 32-bit FNV-1a over the tag and the string's code units, with a final
 * avalanche so that the low bits used for slots mix well.
 */
function hash(tag: number, key: string): number {
  let h = Math.imul(0x811c9dc5 ^ tag, 0x01000193);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), 0x01000193);
    if (c > 0xff) h = Math.imul(h ^ (c >>> 8), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}
