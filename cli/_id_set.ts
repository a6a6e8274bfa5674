// Internal: a set of input ids (strings and numbers) that stays small for
// millions of ids, used by resume (ids already embedded) and by the CLI
// (duplicate ids). Not exported from mod.ts.
//
// A JS Set<string> of 1,000,000 short ids costs around 60 MB (a heap string and
// a hash-table entry each). Here line-number ids (small non-negative integers,
// the common case) are bits in a bitmap, 1,000,000 of them in 125 KB; every
// other id is stored as UTF-8 bytes in one growing byte arena, found through
// an open-addressing table of 32-bit hashes and offsets: about 9 bytes per id
// plus its length. Lookups compare the bytes, so the set is exact.

/** Numbers below this are bits in the bitmap (at most 16 MiB of bitmap). */
const BITMAP_LIMIT = 1 << 27;

const encoder = new TextEncoder();

/**
 * An exact set of `string | number | bigint` ids; `5` and `"5"` are different
 * ids, and a bigint (an integer beyond 2^53) is the number it writes as.
 */
export class IdSet {
  #bits = new Uint32Array(0);
  #arena = new Uint8Array(1 << 12);
  #arenaLength = 0;
  // Slot i holds (offset + 1) of an entry in the arena, 0 when empty; entries
  // are [4-byte length][bytes], the first byte a type tag ("s" string, "n" number).
  #slots = new Int32Array(1 << 10);
  #hashes = new Int32Array(1 << 10);
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
    const key = keyBytes(id);
    return this.#find(key, hash(key)) >= 0;
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
    const key = keyBytes(id);
    const h = hash(key);
    const found = this.#find(key, h);
    if (found >= 0) return false;
    if ((this.#stored + 1) * 4 > this.#slots.length * 3) {
      this.#rehash();
      return this.add(id);
    }
    const slot = -found - 1;
    const offset = this.#append(key);
    this.#slots[slot] = offset + 1;
    this.#hashes[slot] = h;
    this.#stored++;
    this.#size++;
    return true;
  }

  /** Returns the slot holding `key` (>= 0), or `-(free slot) - 1`. */
  #find(key: Uint8Array, h: number): number {
    const mask = this.#slots.length - 1;
    for (let slot = h & mask;; slot = (slot + 1) & mask) {
      const at = this.#slots[slot]!;
      if (at === 0) return -slot - 1;
      if (this.#hashes[slot] === h && this.#equals(at - 1, key)) return slot;
    }
  }

  #equals(offset: number, key: Uint8Array): boolean {
    const arena = this.#arena;
    const length = arena[offset]! | (arena[offset + 1]! << 8) | (arena[offset + 2]! << 16) |
      (arena[offset + 3]! << 24);
    if (length !== key.length) return false;
    for (let i = 0; i < length; i++) {
      if (arena[offset + 4 + i] !== key[i]) return false;
    }
    return true;
  }

  #append(key: Uint8Array): number {
    const needed = this.#arenaLength + 4 + key.length;
    if (needed > this.#arena.length) {
      const grown = new Uint8Array(Math.max(needed, this.#arena.length * 2));
      grown.set(this.#arena.subarray(0, this.#arenaLength));
      this.#arena = grown;
    }
    const offset = this.#arenaLength;
    const length = key.length;
    this.#arena[offset] = length & 0xff;
    this.#arena[offset + 1] = (length >>> 8) & 0xff;
    this.#arena[offset + 2] = (length >>> 16) & 0xff;
    this.#arena[offset + 3] = (length >>> 24) & 0xff;
    this.#arena.set(key, offset + 4);
    this.#arenaLength = needed;
    return offset;
  }

  #rehash(): void {
    const oldSlots = this.#slots;
    const oldHashes = this.#hashes;
    this.#slots = new Int32Array(oldSlots.length * 2);
    this.#hashes = new Int32Array(oldSlots.length * 2);
    const mask = this.#slots.length - 1;
    for (let i = 0; i < oldSlots.length; i++) {
      const at = oldSlots[i]!;
      if (at === 0) continue;
      const h = oldHashes[i]!;
      let slot = h & mask;
      while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
      this.#slots[slot] = at;
      this.#hashes[slot] = h;
    }
  }
}

function isBitmapId(id: string | number | bigint): id is number {
  return typeof id === "number" && Number.isInteger(id) && id >= 0 && id < BITMAP_LIMIT;
}

function keyBytes(id: string | number | bigint): Uint8Array {
  return encoder.encode(typeof id === "string" ? `s${id}` : `n${id}`);
}

/** 32-bit FNV-1a with a final avalanche, so that the low bits used for slots mix well. */
function hash(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}
