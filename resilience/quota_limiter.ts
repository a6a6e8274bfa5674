/**
 * A sliding-window limiter for requests per minute and tokens per minute,
 * shared by every call in flight, so that a run stays under its quota instead
 * of collecting 429s.
 *
 * @module
 */

import { now } from "../internal/clock.ts";
import { Deque } from "../internal/deque.ts";
import { parseDuration } from "../duration.ts";

/** Options for {@linkcode QuotaLimiter}. */
export interface QuotaLimiterOptions {
  /**
   * The most requests started in any window; `Infinity` for no limit.
   * Gemini's free tier allows 100 per minute.
   *
   * @default {Infinity}
   */
  rpm?: number;
  /**
   * The most (estimated) tokens sent in any window; `Infinity` for no limit.
   * Gemini's free tier allows 30,000 per minute.
   *
   * @default {Infinity}
   */
  tpm?: number;
  /**
   * The window's length: milliseconds or a string like `"60s"`. Make it a
   * little longer than the server's to absorb network delay.
   *
   * @default {60000}
   */
  window?: number | string;
}

/** Options for {@linkcode QuotaLimiter.acquire}. */
export interface AcquireOptions {
  /** Stops waiting: the call rejects with `signal.reason` and reserves nothing. */
  signal?: AbortSignal;
}

/** What a {@linkcode QuotaLimiter} has granted within the current window. */
export interface QuotaUsage {
  /** Requests granted in the window. */
  requests: number;
  /** Tokens granted in the window. */
  tokens: number;
}

interface Waiter {
  tokens: number;
  settled: boolean;
  resolve(): void;
}

/**
 * Grants requests, each with its token count, so that in every window of
 * `window` milliseconds at most `rpm` requests and `tpm` tokens are granted
 * (a sliding window over the exact grant times, not fixed minute buckets).
 *
 * Waiters are served first come, first served; each waits on at most one
 * shared `setTimeout`, armed for the moment the oldest grants leave the
 * window, so fake timers drive it in tests. A request of more than `tpm`
 * tokens is granted alone, once the window holds no other tokens.
 *
 * {@linkcode QuotaLimiter.pause} holds every grant until a time, which is how
 * a 429's `RetryInfo` delay slows down every caller, not only the one that
 * got it.
 *
 * @example Usage
 * ```ts
 * import { QuotaLimiter } from "./quota_limiter.ts";
 * import assert from "node:assert/strict";
 *
 * const limiter = new QuotaLimiter({ rpm: 2, tpm: 1000, window: "200ms" });
 * await limiter.acquire(400);
 * await limiter.acquire(400);
 * assert.deepEqual(limiter.usage(), { requests: 2, tokens: 800 });
 * const start = Date.now();
 * await limiter.acquire(100); // waits for the first grant to leave the window
 * assert.ok(Date.now() - start >= 150);
 * ```
 */
export class QuotaLimiter {
  readonly #rpm: number;
  readonly #tpm: number;
  readonly #window: number;
  // Grants still in the window, oldest first: parallel arrays from #head.
  #at: number[] = [];
  #tokens: number[] = [];
  #head = 0;
  #windowTokens = 0;
  #pausedUntil = -Infinity;
  readonly #waiters = new Deque<Waiter>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /**
   * Creates the limiter.
   *
   * @param options The limits and the window.
   * @throws {RangeError} If `rpm` or `tpm` is not a positive number, or `window` is not a positive duration.
   */
  constructor(options: QuotaLimiterOptions = {}) {
    const { rpm = Infinity, tpm = Infinity, window = 60_000 } = options;
    for (const [name, value] of [["rpm", rpm], ["tpm", tpm]] as const) {
      if (!(value >= 1) || (value !== Infinity && !Number.isInteger(value))) {
        throw new RangeError(
          `Cannot create quota limiter: ${name} must be a positive integer or Infinity, received ${value}`,
        );
      }
    }
    let ms: number;
    try {
      ms = parseDuration(window, "window");
    } catch (error) {
      throw new RangeError(`Cannot create quota limiter: ${(error as Error).message}`);
    }
    if (!(ms > 0) || ms === Infinity) {
      throw new RangeError(
        `Cannot create quota limiter: window must be a positive finite duration, received ${
          JSON.stringify(window)
        }`,
      );
    }
    this.#rpm = rpm;
    this.#tpm = tpm;
    this.#window = ms;
  }

  /** The most requests per window. */
  get rpm(): number {
    return this.#rpm;
  }

  /** The most tokens per window. */
  get tpm(): number {
    return this.#tpm;
  }

  /** The window's length in milliseconds. */
  get window(): number {
    return this.#window;
  }

  /** Until when grants are held by {@linkcode QuotaLimiter.pause} (ms since the epoch). */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** How many callers are waiting for a grant. */
  get waiting(): number {
    let count = 0;
    for (let i = 0; i < this.#waiters.length; i++) {
      const waiter = this.#waiters.shift()!;
      if (!waiter.settled) count++;
      this.#waiters.push(waiter);
    }
    return count;
  }

  /**
   * What has been granted in the window that ends now.
   *
   * @returns The requests and tokens granted in the current window.
   */
  usage(): QuotaUsage {
    this.#prune(now());
    return { requests: this.#at.length - this.#head, tokens: this.#windowTokens };
  }

  /**
   * Waits until one request of `tokens` tokens fits the quota, and reserves it.
   * A reservation is never returned: a failed call still counted at the server.
   *
   * @param tokens The request's (estimated) token count.
   * @param options Cancellation of the wait.
   * @returns A promise that resolves once the request is reserved.
   * @throws {RangeError} If `tokens` is not a non-negative number.
   */
  acquire(tokens = 0, options?: AcquireOptions): Promise<void> {
    if (!(tokens >= 0) || tokens === Infinity) {
      throw new RangeError(
        `Cannot acquire quota: tokens must be a non-negative finite number, received ${tokens}`,
      );
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const time = now();
    this.#prune(time);
    if (this.#waiters.length === 0 && time >= this.#pausedUntil && this.#fits(tokens)) {
      this.#grant(time, tokens);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        if (waiter.settled) return;
        waiter.settled = true;
        reject(signal!.reason);
        this.#pump(); // the head may have been what held the others
      };
      const waiter: Waiter = {
        tokens,
        settled: false,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  /**
   * Holds every grant for `ms` milliseconds from now (a longer pause already
   * in force is kept): what a 429 with a retry delay calls for.
   *
   * @param ms How long to hold grants, in milliseconds.
   * @throws {RangeError} If `ms` is negative or not finite.
   */
  pause(ms: number): void {
    if (!(ms >= 0) || ms === Infinity) {
      throw new RangeError(
        `Cannot pause quota limiter: ms must be a non-negative finite number, received ${ms}`,
      );
    }
    this.#pausedUntil = Math.max(this.#pausedUntil, now() + ms);
    this.#pump();
  }

  #fits(tokens: number): boolean {
    return this.#at.length - this.#head + 1 <= this.#rpm &&
      this.#windowTokens + Math.min(tokens, this.#tpm) <= this.#tpm;
  }

  #grant(time: number, tokens: number): void {
    this.#at.push(time);
    this.#tokens.push(tokens);
    this.#windowTokens += tokens;
  }

  #prune(time: number): void {
    while (this.#head < this.#at.length && this.#at[this.#head]! + this.#window <= time) {
      this.#windowTokens -= this.#tokens[this.#head]!;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#at.length) {
      this.#at = this.#at.slice(this.#head);
      this.#tokens = this.#tokens.slice(this.#head);
      this.#head = 0;
    }
    if (this.#head === this.#at.length) this.#windowTokens = 0; // no float drift
  }

  /** Grants what fits now, then arms the timer for the head waiter. */
  #pump(): void {
    const time = now();
    this.#prune(time);
    let waiter = this.#waiters.peek();
    while (waiter !== undefined) {
      if (waiter.settled) {
        this.#waiters.shift();
      } else if (time < this.#pausedUntil) {
        return this.#arm(this.#pausedUntil, time);
      } else if (this.#fits(waiter.tokens)) {
        this.#waiters.shift();
        this.#grant(time, waiter.tokens);
        waiter.settled = true;
        waiter.resolve();
      } else {
        return this.#arm(this.#freeAt(waiter.tokens), time);
      }
      waiter = this.#waiters.peek();
    }
    this.#disarm();
  }

  /** When enough of the oldest grants will have left the window for `tokens` to fit. */
  #freeAt(tokens: number): number {
    const count = this.#at.length - this.#head;
    let i = this.#head + Math.max(0, count + 1 - this.#rpm) - 1; // last grant that must expire
    let remaining = this.#windowTokens;
    for (let j = this.#head; j <= i; j++) remaining -= this.#tokens[j]!;
    const need = Math.min(tokens, this.#tpm);
    while (remaining + need > this.#tpm && i + 1 < this.#at.length) {
      i++;
      remaining -= this.#tokens[i]!;
    }
    return i < this.#head ? now() : this.#at[i]! + this.#window;
  }

  #arm(at: number, time: number): void {
    if (this.#timer !== undefined && this.#timerAt === at) return;
    this.#disarm();
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#pump();
    }, Math.max(0, at - time));
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
