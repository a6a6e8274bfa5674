// Internal: per-client fairness. Each client (one per token, or one for all
// when there are no tokens) may have `concurrency` requests in flight and start
// `rps` requests per second (a token bucket holding one second's worth), so
// that one busy client cannot take every slot of the shared queue.

import { now } from "../internal/clock.ts";

/** An admitted request: release it when answered. */
export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; reason: "concurrency" | "rate"; retryAfterSeconds: number };

interface ClientState {
  inFlight: number;
  tokens: number;
  refilledAt: number;
}

/** Admits requests per client under a concurrency cap and a request rate. */
export class ClientLimits {
  readonly #clients = new Map<number, ClientState>();

  /** @throws {RangeError} If `concurrency` is not a positive integer or `rps` is not positive. */
  constructor(readonly concurrency: number, readonly rps: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(
        `Cannot create client limits: concurrency must be a positive integer, received ${concurrency}`,
      );
    }
    if (!(rps > 0)) {
      throw new RangeError(`Cannot create client limits: rps must be positive, received ${rps}`);
    }
  }

  /** Admits one request of client `id`, or says why not and when to retry. */
  admit(id: number): Admission {
    let state = this.#clients.get(id);
    const time = now();
    if (state === undefined) {
      state = { inFlight: 0, tokens: this.rps, refilledAt: time };
      this.#clients.set(id, state);
    }
    if (this.rps !== Infinity) {
      state.tokens = Math.min(this.rps, state.tokens + (time - state.refilledAt) * this.rps / 1000);
      state.refilledAt = time;
    }
    if (state.inFlight >= this.concurrency) {
      return { ok: false, reason: "concurrency", retryAfterSeconds: 1 };
    }
    if (state.tokens < 1) {
      return { ok: false, reason: "rate", retryAfterSeconds: (1 - state.tokens) / this.rps };
    }
    state.tokens -= 1;
    state.inFlight++;
    const current = state;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        current.inFlight--;
      },
    };
  }
}
