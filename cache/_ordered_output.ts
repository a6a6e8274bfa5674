// Internal: the outputs of a cached run, written in input order. Hits are
// ready when looked up, misses when their result comes; whatever is ready at
// the head is written, one write at a time.

import { Deque } from "../internal/deque.ts";
import { Notifier } from "../internal/notifier.ts";

/** An output waiting for its turn, with the bytes it holds meanwhile (counted when pushed). */
export interface Held {
  readonly held: number;
}

/** A first-in, first-out queue of outputs written as the head becomes ready. */
export class OrderedOutput<S extends Held> {
  readonly #queue = new Deque<S>();
  readonly #ready: (slot: S) => boolean;
  readonly #write: (slot: S) => void | Promise<void>;
  readonly #drained = new Notifier();
  #heldBytes = 0;
  #draining = false;
  #drainDone: Promise<void> = Promise.resolve();

  constructor(ready: (slot: S) => boolean, write: (slot: S) => void | Promise<void>) {
    this.#ready = ready;
    this.#write = write;
  }

  /** Bytes held by the queued outputs. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** How many outputs are queued. */
  get length(): number {
    return this.#queue.length;
  }

  /** Queues an output behind the others. */
  push(slot: S): void {
    this.#heldBytes += slot.held;
    this.#queue.push(slot);
  }

  /** Writes the ready outputs at the head; resolves when they are written (the drain running). */
  pump(): Promise<void> {
    if (!this.#draining) {
      this.#draining = true;
      this.#drainDone = this.#drain();
    }
    return this.#drainDone;
  }

  /** Resolves at the next write; rejects with `signal.reason` on abort. */
  written(signal: AbortSignal): Promise<void> {
    return this.#drained.wait(signal);
  }

  async #drain(): Promise<void> {
    try {
      for (let slot = this.#queue.peek(); slot && this.#ready(slot); slot = this.#queue.peek()) {
        this.#queue.shift();
        this.#heldBytes -= slot.held;
        await this.#write(slot);
        this.#drained.notify();
      }
    } finally {
      this.#draining = false;
    }
  }
}
