// Internal: the one place embatch reads the time, so that fake timers
// (node:test mock.timers, which fake Date but not performance.now) control it.

const realDateNow = Date.now;
const origin = performance.timeOrigin;

/**
 * Milliseconds since the epoch. With the real `Date` this is monotonic and
 * sub-millisecond (`performance.timeOrigin + performance.now()`), so a
 * deadline is never computed from a truncated millisecond; while `Date` is
 * faked (tests) it is the fake `Date.now()`, so fake time controls it.
 */
export function now(): number {
  return clockIsReal() ? origin + performance.now() : Date.now();
}

/**
 * Whether the clock is the real one: `false` while `Date` is faked (tests),
 * whose timers fire exactly on time.
 */
export function clockIsReal(): boolean {
  return Date.now === realDateNow;
}
