// Internal: the batcher's deadline timers. Deno's timers count whole
// milliseconds and fire 1-2 ms after their delay (measured with
// `deno task bench:deadline`: p50 1.4 ms late for `AbortSignal.timeout(20)`
// on an idle loop), so a timer armed for the whole rest of a batch's wait
// makes the batch leave about 1.4 ms after its deadline. Armed one
// millisecond short, the timer usually fires just after the deadline; when
// it fires before it, the last fraction of a millisecond is waited out on the
// clock one event-loop turn at a time (`setImmediate`, which lets I/O run
// between turns), never by leaving early.

import { setImmediate } from "node:timers";
import { clockIsReal } from "./internal/clock.ts";

/**
 * How much earlier than the deadline a timer is armed while the clock is
 * real. Fake time (tests) fires timers exactly on time, so there it is 0
 * unless a test asks for it.
 */
export const TIMER_LEAD_MS = 1;

/**
 * Hands out wake-up signals for deadlines. A timer still pending that fires
 * no later than a new deadline is shared (so a fast stream makes about one
 * timer per timeout, not one per batch); the caller re-checks the clock on
 * every wake and asks again until the deadline has passed.
 */
export class DeadlineTimer {
  readonly #lead: number | undefined;
  #timer: AbortSignal | undefined;
  #timerAt = 0;

  /**
   * @param lead How much earlier than a deadline to arm its timer; by default
   * {@linkcode TIMER_LEAD_MS} while the clock is real and 0 under fake time,
   * decided at each deadline (a batcher may outlive a test's fake time).
   */
  constructor(lead?: number) {
    this.#lead = lead;
  }

  /** When the last signal handed out is due to fire (the clock's milliseconds). */
  get firesAt(): number {
    return this.#timerAt;
  }

  /**
   * A signal that aborts no later than `due` (give it `at`, the current time,
   * below `due`): the pending timer if it fires by then, else a timer armed
   * `lead` ms short of `due`, or, for the last millisecond, the next turn of
   * the event loop.
   */
  by(due: number, at: number): AbortSignal {
    const timer = this.#timer;
    if (timer !== undefined && !timer.aborted && this.#timerAt <= due) return timer;
    const lead = this.#lead ?? (clockIsReal() ? TIMER_LEAD_MS : 0);
    const delay = Math.ceil(due - at) - lead;
    this.#timer = delay >= 1 ? AbortSignal.timeout(delay) : nextTurn();
    this.#timerAt = at + Math.max(delay, 0);
    return this.#timer;
  }
}

/** A signal that aborts on the next turn of the event loop. */
function nextTurn(): AbortSignal {
  const controller = new AbortController();
  setImmediate(() => controller.abort());
  return controller.signal;
}
