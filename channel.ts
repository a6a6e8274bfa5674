/**
 * A bounded, channel-style async queue: the link between embatch's stages.
 *
 * @module
 */

import { Deque } from "./internal/deque.ts";

/**
 * Thrown by {@linkcode Channel.send} when the channel has been closed. It
 * carries the value that could not be sent, so nothing is silently lost.
 *
 * @typeParam T The type of the value that was not sent.
 *
 * @example Usage
 * ```ts
 * import { Channel, ChannelClosedError } from "./channel.ts";
 * import assert from "node:assert/strict";
 *
 * const channel = new Channel<string>(1);
 * channel.close();
 * const error = await channel.send("late").catch((e) => e);
 * assert.ok(error instanceof ChannelClosedError);
 * assert.equal(error.value, "late");
 * ```
 */
export class ChannelClosedError<T> extends Error {
  /** The value that could not be sent. */
  readonly value: T;

  /**
   * Constructs a new instance.
   *
   * @param value The value that could not be sent.
   */
  constructor(value: T) {
    super("Cannot send to channel: channel is closed");
    this.name = "ChannelClosedError";
    this.value = value;
  }
}

/**
 * The outcome of a receive: a value, or the end of the stream.
 *
 * @typeParam T The type of the channel's values.
 */
export type ReceiveResult<T> = { ok: true; value: T } | { ok: false; closed: true };

/**
 * The outcome of {@linkcode Channel.tryReceive}: a value, the end of the
 * stream, or nothing buffered right now (`closed: false`).
 *
 * @typeParam T The type of the channel's values.
 */
export type TryReceiveResult<T> = ReceiveResult<T> | { ok: false; closed: false };

/** Options for {@linkcode Channel.send} and {@linkcode Channel.receive}. */
export interface ChannelWaitOptions {
  /**
   * Stops waiting: the call rejects with `signal.reason` and the channel is
   * left as if the call had never been made.
   */
  signal?: AbortSignal;
}

interface Waiter<R> {
  settled: boolean;
  resolve(result: R): void;
}

interface SendWaiter<T> extends Waiter<void> {
  value: T;
}

const CLOSED: { ok: false; closed: true } = Object.freeze({ ok: false, closed: true });
const EMPTY: { ok: false; closed: false } = Object.freeze({ ok: false, closed: false });

/**
 * A bounded first-in, first-out channel between async producers and consumers.
 *
 * - `send` waits while the buffer holds `capacity` values: this is the
 *   backpressure that keeps a fast producer from outrunning a slow consumer.
 *   With capacity 0 every `send` waits for a receiver (a rendezvous).
 * - `close()` is the end-of-stream sentinel: receivers first drain what was
 *   buffered (and what blocked senders were offering), then see the end. It is
 *   out of band, so every value of `T`, `undefined` included, can be sent.
 * - `tryReceive()` takes a buffered value synchronously, without allocating a
 *   promise or a timer, which lets a consumer drain a burst cheaply.
 * - A `for await` loop receives until the channel is closed and drained.
 *
 * @typeParam T The type of the values carried.
 *
 * @example Producer and consumer
 * ```ts
 * import { Channel } from "./channel.ts";
 * import assert from "node:assert/strict";
 *
 * const channel = new Channel<number>(2);
 * const producer = (async () => {
 *   for (let i = 0; i < 5; i++) await channel.send(i);
 *   channel.close();
 * })();
 * const received: number[] = [];
 * for await (const value of channel) received.push(value);
 * await producer;
 * assert.deepEqual(received, [0, 1, 2, 3, 4]);
 * ```
 *
 * @example Receiving with a deadline
 * ```ts
 * import { Channel } from "./channel.ts";
 * import assert from "node:assert/strict";
 *
 * const channel = new Channel<string>(1);
 * const error = await channel.receive({ signal: AbortSignal.timeout(10) }).catch((e) => e);
 * assert.equal(error.name, "TimeoutError");
 * ```
 */
export class Channel<T> implements AsyncIterable<T> {
  readonly #capacity: number;
  readonly #buffer = new Deque<T>();
  readonly #senders = new Deque<SendWaiter<T>>();
  readonly #receivers = new Deque<Waiter<ReceiveResult<T>>>();
  #closed = false;
  #abandoned = 0;

  /**
   * Constructs a new channel.
   *
   * @param capacity How many values may wait in the buffer before `send` waits.
   * @throws {RangeError} If `capacity` is not a non-negative integer.
   */
  constructor(capacity = 0) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(
        `Cannot create channel: capacity must be a non-negative integer, received ${capacity}`,
      );
    }
    this.#capacity = capacity;
  }

  /** How many values the buffer holds before `send` waits. */
  get capacity(): number {
    return this.#capacity;
  }

  /** How many values are buffered now. */
  get size(): number {
    return this.#buffer.length;
  }

  /** Whether {@linkcode Channel.close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends a value, waiting while the channel is full.
   *
   * @param value The value to send.
   * @param options Cancellation of the wait.
   * @returns A promise that resolves once the value is buffered or handed to a receiver.
   * @throws {ChannelClosedError} If the channel is closed.
   */
  send(value: T, options?: ChannelWaitOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new ChannelClosedError(value));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.trySend(value)) return Promise.resolve();
    return this.#wait<void, SendWaiter<T>>(
      this.#senders,
      signal,
      (w) => Object.assign(w, { value }),
    );
  }

  /**
   * Sends a value only if that can be done without waiting.
   *
   * @param value The value to send.
   * @returns `true` if the value was buffered or handed to a receiver, `false` if the channel is full.
   * @throws {ChannelClosedError} If the channel is closed.
   */
  trySend(value: T): boolean {
    if (this.#closed) throw new ChannelClosedError(value);
    const receiver = this.#nextLive(this.#receivers);
    if (receiver) {
      receiver.settled = true;
      receiver.resolve({ ok: true, value });
      return true;
    }
    if (this.#buffer.length < this.#capacity) {
      this.#buffer.push(value);
      return true;
    }
    return false;
  }

  /**
   * Receives the next value, waiting while the channel is empty.
   *
   * @param options Cancellation of the wait.
   * @returns `{ ok: true, value }`, or `{ ok: false, closed: true }` once the channel is closed and drained.
   */
  receive(options?: ChannelWaitOptions): Promise<ReceiveResult<T>> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const result = this.tryReceive();
    if (result.ok || result.closed) return Promise.resolve(result);
    return this.#wait<ReceiveResult<T>, Waiter<ReceiveResult<T>>>(
      this.#receivers,
      signal,
      (w) => w,
    );
  }

  /**
   * Receives a value only if one is available now. Costs no promise and no timer.
   *
   * @returns A value; the end of the stream (`closed: true`); or `closed: false` when nothing is buffered yet.
   */
  tryReceive(): TryReceiveResult<T> {
    if (this.#buffer.length > 0) {
      const value = this.#buffer.shift() as T;
      const sender = this.#nextLive(this.#senders);
      if (sender) {
        this.#buffer.push(sender.value);
        sender.settled = true;
        sender.resolve();
      }
      return { ok: true, value };
    }
    const sender = this.#nextLive(this.#senders);
    if (sender) {
      sender.settled = true;
      sender.resolve();
      return { ok: true, value: sender.value };
    }
    return this.#closed ? CLOSED : EMPTY;
  }

  /**
   * Closes the channel: the end-of-stream sentinel. Further sends throw
   * {@linkcode ChannelClosedError}; values already buffered, and those of
   * senders already waiting, are still delivered before receivers see the end.
   * Closing twice is harmless.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let r = this.#nextLive(this.#receivers); r; r = this.#nextLive(this.#receivers)) {
      r.settled = true;
      r.resolve(CLOSED);
    }
  }

  /**
   * Iterates over received values until the channel is closed and drained.
   *
   * @returns An async iterator over the channel's values.
   */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.values();
  }

  /**
   * Iterates over received values until the channel is closed and drained;
   * an abort makes the loop throw `signal.reason`. Buffered values are taken
   * without waiting.
   *
   * @param options Cancellation of the iteration.
   * @returns An async generator over the channel's values.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "./channel.ts";
   * import assert from "node:assert/strict";
   *
   * const channel = new Channel<number>(2);
   * await channel.send(1);
   * await channel.send(2);
   * channel.close();
   * const seen = [];
   * for await (const n of channel.values({ signal: AbortSignal.timeout(1000) })) seen.push(n);
   * assert.deepEqual(seen, [1, 2]);
   * ```
   */
  async *values(options?: ChannelWaitOptions): AsyncGenerator<T, void, undefined> {
    while (true) {
      options?.signal?.throwIfAborted();
      let result: TryReceiveResult<T> = this.tryReceive();
      if (!result.ok && !result.closed) result = await this.receive(options);
      if (!result.ok) return;
      yield result.value;
    }
  }

  #nextLive<W extends { settled: boolean }>(queue: Deque<W>): W | undefined {
    let waiter = queue.shift();
    while (waiter?.settled) waiter = queue.shift();
    return waiter;
  }

  #wait<R, W extends Waiter<R>>(
    queue: Deque<W>,
    signal: AbortSignal | undefined,
    build: (waiter: Waiter<R>) => W,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const onAbort = () => {
        if (waiter.settled) return;
        waiter.settled = true;
        // Aborted waiters are skipped lazily; sweep them out when they pile up
        // (e.g. many timed-out receives on an idle channel) so memory stays flat.
        if (++this.#abandoned > 64 && this.#abandoned * 2 > queue.length) {
          queue.retain((w) => !w.settled);
          this.#abandoned = 0;
        }
        reject(signal!.reason);
      };
      const waiter = build({
        settled: false,
        resolve: (result) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(result);
        },
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.push(waiter);
    });
  }
}
