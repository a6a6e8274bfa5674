// Bench helper: runs async code in virtual time over node:test's mock timers.
// The fake clock jumps straight to the next pending timer instead of stepping
// one millisecond at a time, so minutes of simulated traffic take
// milliseconds. Timers are noted as they are created (setTimeout and
// AbortSignal.timeout are wrapped); a cleared timer only costs a wasted jump.
import { mock } from "node:test";
import { FAKE_TIMER_APIS, flush } from "../internal/fake_time.ts";

/** A binary min-heap of due times. */
class DueTimes {
  #heap: number[] = [];
  push(t: number): void {
    const h = this.#heap;
    h.push(t);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (h[p]! <= h[i]!) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }
  pop(): number | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      for (let i = 0;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && h[l]! < h[m]!) m = l;
        if (r < h.length && h[r]! < h[m]!) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Runs `body` with the clock starting at 0 and faked timers that fire in
 * order as virtual time jumps from one due time to the next.
 *
 * @param body The work; it may use setTimeout, Date and AbortSignal.timeout.
 * @returns What `body` resolves with.
 */
export async function inVirtualTime<R>(body: () => Promise<R>): Promise<R> {
  mock.timers.enable({ apis: FAKE_TIMER_APIS, now: 0 });
  const due = new DueTimes();
  const fakeSetTimeout = globalThis.setTimeout;
  const fakeAbortTimeout = AbortSignal.timeout;
  globalThis.setTimeout = ((fn: () => void, ms = 0) => {
    due.push(Date.now() + Math.max(0, Number(ms) || 0));
    return fakeSetTimeout(fn, ms);
  }) as typeof setTimeout;
  AbortSignal.timeout = (ms: number) => {
    due.push(Date.now() + Math.max(0, ms));
    return fakeAbortTimeout.call(AbortSignal, ms);
  };
  try {
    let settled = false;
    const run = body().finally(() => settled = true);
    run.catch(() => {});
    while (true) {
      await flush();
      await flush();
      if (settled) break;
      const now = Date.now();
      let next = due.pop();
      while (next !== undefined && next <= now) next = due.pop();
      if (next === undefined) {
        throw new Error("Virtual time: no timer pending and the work is stuck");
      }
      mock.timers.tick(next - now);
    }
    return await run;
  } finally {
    globalThis.setTimeout = fakeSetTimeout;
    AbortSignal.timeout = fakeAbortTimeout;
    mock.timers.reset();
  }
}
