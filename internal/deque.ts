// Internal: a growable ring buffer with O(1) push and shift. Not exported from mod.ts.

/** A first-in, first-out queue backed by a power-of-two ring buffer. */
export class Deque<T> {
  #items: (T | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;

  /** How many items are queued. */
  get length(): number {
    return this.#length;
  }

  /** Appends `item` at the back. */
  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = item;
    this.#length++;
  }

  /** Removes and returns the front item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#length--;
    return item;
  }

  /** Returns the front item without removing it, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** Keeps only the items for which `keep` returns `true`, in order. */
  retain(keep: (item: T) => boolean): void {
    const count = this.#length;
    for (let i = 0; i < count; i++) {
      const item = this.shift() as T;
      if (keep(item)) this.push(item);
    }
  }

  #grow(): void {
    const old = this.#items;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#length; i++) {
      next[i] = old[(this.#head + i) & (old.length - 1)];
    }
    this.#items = next;
    this.#head = 0;
  }
}
