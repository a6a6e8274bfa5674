// Internal: the texts of every request, from every client, joined into shared
// batches: one EmbeddingBatcher per group (model, dimensions, task type,
// title), all under one quota limiter and one set of metrics, behind a bounded
// queue that refuses with 503 rather than growing.

import { now } from "../internal/clock.ts";
import type { BatchStrategy } from "../batcher.ts";
import { EmbeddingBatcher } from "../embedding_batcher.ts";
import type { EmbeddingMetrics } from "../metrics.ts";
import { QuotaLimiter } from "../resilience/quota_limiter.ts";
import type { ResilienceOptions } from "../resilience/resilient_embedder.ts";
import { estimateTokens } from "../resilience/tokens.ts";
import { HttpError } from "./_http_error.ts";
import { maxInputTokens } from "./_model.ts";
import type { EmbedGroup, UpstreamFactory } from "./upstream.ts";

/** One text to embed and its group. */
export interface GroupedText {
  text: string;
  group: EmbedGroup;
}

/** What the coalescer needs. */
export interface CoalescerOptions {
  upstream: UpstreamFactory;
  batchSize: number;
  timeout: number | string;
  strategy: BatchStrategy;
  /** The most texts admitted and not yet answered, all clients together. */
  maxQueue: number;
  /** The most groups alive at once; idle ones are closed to make room. */
  maxGroups: number;
  /** Per group: concurrency, retries, call timeout (rpm/tpm go to the shared limiter). */
  resilience: Omit<ResilienceOptions, "limiter" | "metrics" | "maxInputTokens">;
  /** Where upstream calls are counted. */
  metrics: EmbeddingMetrics;
  /** Called with each text's time from admission to its vector, in ms. */
  onItemLatency?: (ms: number) => void;
}

interface Group {
  batcher: EmbeddingBatcher;
  pending: number;
}

function keyOf(group: EmbedGroup): string {
  return JSON.stringify([group.model, group.dimensions, group.taskType, group.title]);
}

/** Batches texts across requests; answers each request when all its texts are done. */
export class Coalescer {
  readonly #options: CoalescerOptions;
  readonly #groups = new Map<string, Group>();
  readonly limiter: QuotaLimiter;
  #pending = 0;
  #closing: Promise<void> | undefined;

  constructor(options: CoalescerOptions) {
    this.#options = options;
    this.limiter = new QuotaLimiter({
      rpm: options.resilience.rpm ?? Infinity,
      tpm: options.resilience.tpm ?? Infinity,
      window: 60_500, // a minute, plus a margin for network delay
    });
  }

  /** Texts admitted and not yet answered (the queue depth). */
  get pending(): number {
    return this.#pending;
  }

  /** Groups alive. */
  get groups(): number {
    return this.#groups.size;
  }

  /**
   * Embeds every text, in order. Rejects with the first text's error (the
   * others are withdrawn), with `signal.reason` when it aborts, or with a
   * 503 {@linkcode HttpError} when the queue is full or closing.
   */
  async embedAll(items: readonly GroupedText[], signal: AbortSignal): Promise<number[][]> {
    if (this.#closing !== undefined) {
      throw new HttpError("overloaded", "Server is shutting down: retry on another instance", {
        retryAfter: 1,
      });
    }
    if (this.#pending + items.length > this.#options.maxQueue) {
      throw new HttpError(
        "overloaded",
        `Server queue full: ${this.#pending} texts waiting, the limit is ${this.#options.maxQueue}`,
        { retryAfter: 1 },
      );
    }
    items.forEach(({ text, group }, index) => {
      const limit = maxInputTokens(group.model);
      // estimateTokens never gives more than 2 tokens per UTF-16 code unit
      // (4 for a surrogate pair), so short texts need no estimate.
      if (text.length * 2 <= limit) return;
      const tokens = estimateTokens(text);
      if (tokens > limit) {
        throw new HttpError(
          "invalid",
          `Text ${index} is too long: estimated at ${tokens} tokens, over ${group.model}'s limit of ${limit}`,
        );
      }
    });
    const groups = items.map((item) => this.#group(item.group));
    this.#pending += items.length;
    for (const group of groups) group.pending++;
    const one = async (item: GroupedText, group: Group, signal: AbortSignal) => {
      const startedAt = now();
      try {
        const vector = await group.batcher.embed(item.text, { signal });
        this.#options.onItemLatency?.(now() - startedAt);
        return vector;
      } finally {
        this.#pending--;
        group.pending--;
      }
    };
    // One text (the common case) needs no withdrawal of others.
    if (items.length === 1) return [await one(items[0]!, groups[0]!, signal)];
    const withdraw = new AbortController();
    const onAbort = () => withdraw.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.all(
        items.map((item, i) =>
          one(item, groups[i]!, withdraw.signal).catch((error) => {
            withdraw.abort(error); // one text failed: the request fails, withdraw the others
            throw error;
          })
        ),
      );
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Stops admitting, sends what is queued, and waits for every call. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#groups.values()].map((g) => g.batcher.close()))
      .then(() => {});
    return this.#closing;
  }

  #group(group: EmbedGroup): Group {
    const key = keyOf(group);
    let found = this.#groups.get(key);
    if (found !== undefined) return found;
    if (this.#groups.size >= this.#options.maxGroups) this.#evictIdle();
    if (this.#groups.size >= this.#options.maxGroups) {
      throw new HttpError(
        "overloaded",
        `Server busy: ${this.#groups.size} distinct (model, dimensions, task type, title) groups are in use`,
        { retryAfter: 1 },
      );
    }
    const o = this.#options;
    found = {
      pending: 0,
      batcher: new EmbeddingBatcher({
        ...o.resilience,
        embedder: o.upstream(group),
        batchSize: o.batchSize,
        timeout: o.timeout,
        strategy: o.strategy,
        queueSize: o.maxQueue,
        limiter: this.limiter,
        metrics: o.metrics,
        maxInputTokens: maxInputTokens(group.model),
      }),
    };
    this.#groups.set(key, found);
    return found;
  }

  #evictIdle(): void {
    for (const [key, group] of this.#groups) {
      if (group.pending > 0) continue;
      this.#groups.delete(key);
      void group.batcher.close();
    }
  }
}
