// Test helper (not part of the public API): fake time over node:test's mock
// timers, which fake setTimeout, setInterval, Date and AbortSignal.timeout.
import { mock } from "node:test";
import { setImmediate } from "node:timers";

type MockTimersApi = Parameters<typeof mock.timers.enable>[0] extends
  { apis?: (infer A)[] } | undefined ? A : never;
// "AbortSignal.timeout" is faked by the runtime but missing from the bundled types.
export const FAKE_TIMER_APIS: MockTimersApi[] = [
  "setTimeout",
  "setInterval",
  "Date",
  "AbortSignal.timeout",
] as unknown as MockTimersApi[];

/** Lets every pending promise callback run, through a real (unfaked) macrotask. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Fake time for one test: `using time = new FakeTime();` then `await time.tick(ms)`.
 * `tick` flushes microtasks before and after advancing, because `mock.timers.tick`
 * is synchronous and a timer created after an `await` does not exist until then.
 */
export class FakeTime implements Disposable {
  constructor(start = 0) {
    mock.timers.enable({ apis: FAKE_TIMER_APIS, now: start });
  }

  /** Advances the clock by `ms`, one millisecond at a time when `stepwise`. */
  async tick(ms: number, stepwise = false): Promise<void> {
    await flush();
    if (stepwise) {
      for (let i = 0; i < ms; i++) {
        mock.timers.tick(1);
        await flush();
      }
    } else {
      mock.timers.tick(ms);
      await flush();
    }
  }

  /**
   * Advances the clock `stepMs` at a time (flushing between steps, so timers
   * created along the way fire on time) until `promise` settles, then returns
   * its outcome. Throws if it has not settled after `limitMs`.
   */
  async until<T>(promise: Promise<T>, stepMs = 1, limitMs = 3_600_000): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => void (settled = true));
    watched.catch(() => {});
    await flush();
    for (let elapsed = 0; !settled; elapsed += stepMs) {
      if (elapsed >= limitMs) throw new Error(`Still pending after ${limitMs} ms of fake time`);
      mock.timers.tick(stepMs);
      await flush();
    }
    return await watched;
  }

  /** Restores the real timers. */
  [Symbol.dispose](): void {
    mock.timers.reset();
  }
}
