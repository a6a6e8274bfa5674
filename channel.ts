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
const DONE: Promise<void> = Promise.resolve();

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
  // Callbacks of {@linkcode Channel.whenReadable}: one slot for the usual
  // single consumer, an array for any more.
  #readable: (() => void) | undefined;
  #readableAt = 1;
  #moreReadable: (() => void)[] = [];

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
    if (this.trySend(value)) return DONE;
    const sent = this.#wait<void, SendWaiter<T>>(
      this.#senders,
      signal,
      (w) => Object.assign(w, { value }),
    );
    // A waiting sender's value can be received now (capacity 0 hands it over).
    if (this.#readable !== undefined) this.#fireReadable();
    return sent;
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
      if (this.#readable !== undefined && this.#buffer.length >= this.#readableAt) {
        this.#fireReadable();
      }
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
    if (this.#readable !== undefined) this.#fireReadable();
  }

  /**
   * Calls `wake` once, the next time `atLeast` values can be received or the
   * channel is closed (at once, synchronously, if that is already so). It
   * takes no value: the caller then takes what is there with
   * {@linkcode Channel.tryReceive}, and may lose the race to another receiver.
   * `wake` may also come with fewer values: when the buffer is full (a sender
   * is then held up), or when several callbacks wait at once; the caller
   * checks what is there.
   *
   * This is the cheap way for one consumer to wait on the channel and on
   * something else at once (a deadline, a caller's abort): it costs no
   * promise, no listener and no timer, so a consumer can register one
   * callback per wait and let the other event call the same function; with
   * `atLeast` it is woken once for a group of values rather than once per
   * value. A callback that is no longer wanted is dropped with
   * {@linkcode Channel.cancelWhenReadable}; one that fires anyway does no
   * harm if `wake` ignores repeated calls. Registering the same function
   * again while it waits does nothing.
   *
   * @param wake Called with no arguments, at most once per registration.
   * @param atLeast How many values to wait for.
   * @throws {RangeError} If `atLeast` is not a positive integer.
   *
   * @example Waiting for a value or a deadline
   * ```ts
   * import { Channel } from "./channel.ts";
   * import assert from "node:assert/strict";
   *
   * const channel = new Channel<string>(4);
   * const deadline = AbortSignal.timeout(1000);
   * const woken = await new Promise<string>((resolve) => {
   *   const wake = () => resolve("readable");
   *   deadline.addEventListener("abort", () => resolve("deadline"), { once: true });
   *   channel.whenReadable(wake);
   *   channel.trySend("a");
   * });
   * assert.equal(woken, "readable");
   * assert.deepEqual(channel.tryReceive(), { ok: true, value: "a" });
   * ```
   *
   * @example Woken once for three values
   * ```ts
   * import { Channel } from "./channel.ts";
   * import assert from "node:assert/strict";
   *
   * const channel = new Channel<number>(8);
   * let wakes = 0;
   * channel.whenReadable(() => wakes++, 3);
   * channel.trySend(1);
   * channel.trySend(2);
   * assert.equal(wakes, 0);
   * channel.trySend(3);
   * assert.equal(wakes, 1);
   * ```
   */
  whenReadable(wake: () => void, atLeast = 1): void {
    if (!Number.isInteger(atLeast) || atLeast < 1) {
      throw new RangeError(
        `Cannot wait for values: atLeast must be a positive integer, received ${atLeast}`,
      );
    }
    // A full buffer wakes too: no more values can arrive until someone receives.
    const threshold = Math.min(atLeast, Math.max(this.#capacity, 1));
    if (this.#closed || this.#buffer.length >= threshold || this.#hasLiveSender()) {
      wake();
    } else if (this.#readable === undefined || this.#readable === wake) {
      this.#readable = wake;
      this.#readableAt = threshold;
    } else if (!this.#moreReadable.includes(wake)) {
      // Several waiters: wake them all at the next value, as if atLeast were 1.
      this.#moreReadable.push(wake);
      this.#readableAt = 1;
    }
  }

  /**
   * Withdraws a callback registered with {@linkcode Channel.whenReadable}
   * that has not fired yet; does nothing otherwise.
   *
   * @param wake The function that was registered.
   *
   * @example Usage
   * ```ts
   * import { Channel } from "./channel.ts";
   * import assert from "node:assert/strict";
   *
   * const channel = new Channel<number>(1);
   * let calls = 0;
   * const wake = () => calls++;
   * channel.whenReadable(wake);
   * channel.cancelWhenReadable(wake);
   * channel.trySend(1);
   * assert.equal(calls, 0);
   * ```
   */
  cancelWhenReadable(wake: () => void): void {
    if (this.#readable === wake) {
      this.#readable = this.#moreReadable.shift();
      this.#readableAt = 1;
    } else {
      const at = this.#moreReadable.indexOf(wake);
      if (at >= 0) this.#moreReadable.splice(at, 1);
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

  #fireReadable(): void {
    const wake = this.#readable!;
    this.#readable = undefined;
    if (this.#moreReadable.length > 0) {
      const more = this.#moreReadable;
      this.#moreReadable = [];
      wake();
      for (const w of more) w();
    } else {
      wake();
    }
  }

  #hasLiveSender(): boolean {
    let sender = this.#senders.peek();
    while (sender?.settled) {
      this.#senders.shift();
      sender = this.#senders.peek();
    }
    return sender !== undefined;
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
