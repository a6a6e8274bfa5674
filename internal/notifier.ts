// Internal: a pulse that wakes every current waiter, for loops that wait on
// "something changed" (a task finished, an item was passed on).

/** Wakes every waiter of {@linkcode Notifier.wait} on each {@linkcode Notifier.notify}. */
export class Notifier {
  #waiters = new Set<() => void>();

  /** Resolves at the next `notify()`; rejects with `signal.reason` on abort. */
  wait(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters.delete(wake);
        reject(signal!.reason);
      };
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.#waiters.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Wakes everyone waiting now. */
  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }
}
