// Internal: a fixed-size histogram of durations for p50/p95/p99 over any
// number of samples (memory does not grow with the count). Not exported from mod.ts.

/** Bucket i > 0 covers [GROWTH^(i-1), GROWTH^i) ms: about 2.5% relative error. */
const GROWTH = 1.05;
const BUCKETS = 512; // up to 1.05^511 ms (about 2 years); the last bucket holds the rest

/** Counts durations in logarithmic buckets and answers quantiles from them. */
export class LatencyHistogram {
  #counts = new Float64Array(BUCKETS);
  #count = 0;
  #max = 0;
  /** The last duration recorded and its bucket: items of one batch often share a duration. */
  #last = { value: -1, bucket: 0 };

  /** How many durations were recorded. */
  get count(): number {
    return this.#count;
  }

  /** Records one duration in milliseconds. */
  record(ms: number): void {
    const value = Math.max(0, ms);
    const last = this.#last;
    if (value !== last.value) {
      last.value = value;
      last.bucket = value < 1
        ? 0
        : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(value) / Math.log(GROWTH)));
    }
    this.#counts[last.bucket]!++;
    this.#count++;
    if (value > this.#max) this.#max = value;
  }

  /**
   * Returns the `q` quantile (0 < q <= 1) in milliseconds: the upper bound of
   * its bucket, never above the largest duration recorded; 0 when empty.
   */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        return i === BUCKETS - 1 ? this.#max : Math.min(this.#max, i === 0 ? 1 : GROWTH ** i);
      }
    }
    return this.#max;
  }
}
