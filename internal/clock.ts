// Internal: the one place embatch reads the time, so that fake timers
// (node:test mock.timers, which fakes Date but not performance.now) control it.

/** Milliseconds since the epoch, from the (possibly faked) `Date`. */
export function now(): number {
  return Date.now();
}
