// Internal: a semaphore whose limit shrinks on overload and grows back
// (additive increase, multiplicative decrease), shared by every call in flight.

import { Deque } from "../internal/deque.ts";

interface Waiter {
  settled: boolean;
  resolve(): void;
}

/**
 * Up to `limit` holders at once; `limit` halves on {@linkcode AdaptiveLimit.decrease}
 * (not below 1) and climbs back by one per `limit` successes reported with
 * {@linkcode AdaptiveLimit.increase}, up to `max`.
 */
export class AdaptiveLimit {
  readonly max: number;
  #limit: number;
  #credit = 0;
  #active = 0;
  readonly #waiters = new Deque<Waiter>();

  constructor(max: number) {
    this.max = max;
    this.#limit = max;
  }

  /** The current limit. */
  get limit(): number {
    return this.#limit;
  }

  /** How many hold a slot now. */
  get active(): number {
    return this.#active;
  }

  /** Waits for a slot; rejects with `signal.reason` on abort, holding nothing. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#active < this.#limit && this.#waiters.length === 0) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        if (waiter.settled) return;
        waiter.settled = true;
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        settled: false,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Gives a slot back. */
  release(): void {
    this.#active--;
    this.#pump();
  }

  /** Halves the limit (multiplicative decrease). */
  decrease(): void {
    this.#limit = Math.max(1, Math.floor(this.#limit / 2));
    this.#credit = 0;
  }

  /** Reports a success: the limit grows by one per `limit` successes (additive increase). */
  increase(): void {
    if (this.#limit >= this.max) return;
    this.#credit += 1 / this.#limit;
    if (this.#credit >= 1) {
      this.#credit = 0;
      this.#limit++;
      this.#pump();
    }
  }

  #pump(): void {
    while (this.#active < this.#limit) {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) return;
      if (waiter.settled) continue;
      waiter.settled = true;
      this.#active++;
      waiter.resolve();
    }
  }
}
