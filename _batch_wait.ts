// Internal: how a batcher waits for its next item, its deadline or an abort
// with one promise per wait and no listener per item.

import type { Channel } from "./channel.ts";

/**
 * A batching run's waits. Every event that may end a wait (the channel
 * becoming readable, a linked signal aborting) calls the same `wake`, which
 * resolves the current wait's promise; the caller then looks at what
 * happened (`tryReceive`, `signal.aborted`, the clock). A signal is linked
 * once (the caller's for the whole run, a deadline timer while it is
 * pending), not once per wait, and every link is removed by
 * {@linkcode BatchWait.dispose}. A wake from a signal that no longer
 * matters (an earlier batch's timer) is harmless: the caller just waits again.
 */
export class BatchWait {
  readonly #input: Channel<unknown>;
  #linked: AbortSignal[] = [];
  #resolve: (() => void) | undefined;

  /** Resolves the current wait; later calls until the next wait do nothing. */
  readonly wake = (): void => {
    const resolve = this.#resolve;
    if (resolve !== undefined) {
      this.#resolve = undefined;
      resolve();
    }
  };

  constructor(input: Channel<unknown>, signal?: AbortSignal) {
    this.#input = input;
    if (signal) this.link(signal);
  }

  /** Makes `signal`'s abort end the current wait or the next one. Linking twice does nothing. */
  link(signal: AbortSignal): void {
    if (this.#linked.includes(signal)) return;
    // Fired signals have dropped their `once` listener: forget them.
    if (this.#linked.length >= 4) this.#linked = this.#linked.filter((s) => !s.aborted);
    signal.addEventListener("abort", this.wake, { once: true });
    this.#linked.push(signal);
  }

  /**
   * Resolves when the input holds `atLeast` values (or is full, or closed),
   * or a linked signal aborts; with `atLeast` 0, only on a signal.
   */
  wait(atLeast: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
      if (atLeast > 0) this.#input.whenReadable(this.wake, atLeast);
    });
  }

  /** Unlinks every signal and withdraws the channel callback. */
  dispose(): void {
    for (const signal of this.#linked) signal.removeEventListener("abort", this.wake);
    this.#linked.length = 0;
    this.#input.cancelWhenReadable(this.wake);
    this.#resolve = undefined;
  }
}
