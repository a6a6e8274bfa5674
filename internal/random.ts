// Internal: a small seeded PRNG so that demo arrivals, simulated faults and
// property tests are reproducible from a seed.

/**
 * Returns a generator of uniform numbers in [0, 1) from a 32-bit seed (mulberry32).
 *
 * @param seed Any integer; the same seed gives the same sequence.
 */
export function seededRandom(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
