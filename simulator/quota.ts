/**
 * The simulator's token counter and its per-key, per-minute quotas: what
 * decides when `createSimulatorHandler` answers `429 RESOURCE_EXHAUSTED`.
 *
 * @module
 */

/** The length of the sliding quota window, in milliseconds. */
export const QUOTA_WINDOW_MS = 60_000;

/**
 * Counts the tokens of `text` the way the simulator does: one token per 4
 * UTF-8 bytes, rounded up, so any non-empty text has at least one token and
 * the empty text has none.
 *
 * This is a deterministic stand-in for Gemini's tokenizer, not a copy of it.
 * For English prose it lands near Gemini's own count (about 4 characters a
 * token); for text in non-Latin scripts, whose characters take 2 to 4 UTF-8
 * bytes, it counts more, as Gemini does. The simulator uses it for the
 * per-text limit (`maxInputTokens`) and the tokens-per-minute quota (`tpm`).
 *
 * @param text The text to count.
 * @returns `ceil(utf8Bytes / 4)`.
 *
 * @example Usage
 * ```ts
 * import { countTokens } from "./quota.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(countTokens(""), 0);
 * assert.equal(countTokens("a"), 1);
 * assert.equal(countTokens("four"), 1);
 * assert.equal(countTokens("five!"), 2);
 * assert.equal(countTokens("日本"), 2); // 6 UTF-8 bytes
 * ```
 */
export function countTokens(text: string): number {
  // Count UTF-8 bytes without allocating for ASCII-only text.
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4; // a surrogate pair is one 4-byte code point
        i++;
      } else {
        bytes += 3; // a lone surrogate is encoded as U+FFFD
      }
    } else bytes += 3;
  }
  return Math.ceil(bytes / 4);
}

/** Counters for one API key, as returned by `SimulatorHandler.keyStats`. */
export interface SimulatorKeyStats {
  /** Calls admitted (not answered 429) for this key. */
  requests: number;
  /** Tokens of the admitted calls ({@linkcode countTokens} of each text). */
  tokens: number;
  /** Calls answered `429 RESOURCE_EXHAUSTED` for this key. */
  rateLimited: number;
  /** The most calls admitted in any 60-second window. */
  peakRequestsPerMinute: number;
  /** The most tokens admitted in any 60-second window. */
  peakTokensPerMinute: number;
}

/** Which per-minute limit a call would break. */
export type QuotaViolation = "requests" | "tokens";

/** The outcome of {@linkcode QuotaBook.admit}. */
export type Admission =
  | { ok: true }
  | {
    ok: false;
    violations: QuotaViolation[];
    /**
     * Milliseconds from now until the call would be admitted, or `undefined`
     * when it never can be (it alone needs more tokens than `tpm`).
     */
    retryAfterMs: number | undefined;
  };

interface KeyWindow {
  /** Admission times, oldest first, from `head` on. */
  times: number[];
  /** Tokens of each admission, aligned with `times`. */
  tokens: number[];
  head: number;
  requestsInWindow: number;
  tokensInWindow: number;
  stats: SimulatorKeyStats;
}

/**
 * Internal: per-key sliding 60-second windows of admitted calls. A call
 * admitted at time `t` counts against every window that contains `t`, that
 * is until `t + 60 s` (at which instant it no longer counts).
 */
export class QuotaBook {
  #rpm: number;
  #tpm: number;
  #keys = new Map<string, KeyWindow>();
  #peakRequests = 0;
  #peakTokens = 0;

  constructor(rpm: number, tpm: number) {
    this.#rpm = rpm;
    this.#tpm = tpm;
  }

  /** The highest per-minute call count admitted for any key. */
  get peakRequestsPerMinute(): number {
    return this.#peakRequests;
  }

  /** The highest per-minute token count admitted for any key. */
  get peakTokensPerMinute(): number {
    return this.#peakTokens;
  }

  /** Admits a call of `tokens` for `key` at time `at`, or says why not and until when. */
  admit(key: string, tokens: number, at: number): Admission {
    const window = this.#window(key);
    this.#slide(window, at);
    const violations: QuotaViolation[] = [];
    if (window.requestsInWindow + 1 > this.#rpm) violations.push("requests");
    if (window.tokensInWindow + tokens > this.#tpm) violations.push("tokens");
    if (violations.length > 0) {
      window.stats.rateLimited++;
      return { ok: false, violations, retryAfterMs: this.#retryAfter(window, tokens, at) };
    }
    window.times.push(at);
    window.tokens.push(tokens);
    window.requestsInWindow++;
    window.tokensInWindow += tokens;
    const { stats } = window;
    stats.requests++;
    stats.tokens += tokens;
    stats.peakRequestsPerMinute = Math.max(stats.peakRequestsPerMinute, window.requestsInWindow);
    stats.peakTokensPerMinute = Math.max(stats.peakTokensPerMinute, window.tokensInWindow);
    this.#peakRequests = Math.max(this.#peakRequests, window.requestsInWindow);
    this.#peakTokens = Math.max(this.#peakTokens, window.tokensInWindow);
    return { ok: true };
  }

  /** A copy of the counters of `key`, or `undefined` if it never made a valid call. */
  stats(key: string): SimulatorKeyStats | undefined {
    const stats = this.#keys.get(key)?.stats;
    return stats === undefined ? undefined : { ...stats };
  }

  #window(key: string): KeyWindow {
    let window = this.#keys.get(key);
    if (window === undefined) {
      window = {
        times: [],
        tokens: [],
        head: 0,
        requestsInWindow: 0,
        tokensInWindow: 0,
        stats: {
          requests: 0,
          tokens: 0,
          rateLimited: 0,
          peakRequestsPerMinute: 0,
          peakTokensPerMinute: 0,
        },
      };
      this.#keys.set(key, window);
    }
    return window;
  }

  /** Forgets the admissions that no longer count at time `at`. */
  #slide(window: KeyWindow, at: number): void {
    while (
      window.head < window.times.length && window.times[window.head]! + QUOTA_WINDOW_MS <= at
    ) {
      window.requestsInWindow--;
      window.tokensInWindow -= window.tokens[window.head]!;
      window.head++;
    }
    if (window.head > 1024 && window.head * 2 > window.times.length) {
      window.times.splice(0, window.head);
      window.tokens.splice(0, window.head);
      window.head = 0;
    }
  }

  /** When the oldest admissions will have left the window enough to admit the call. */
  #retryAfter(window: KeyWindow, tokens: number, at: number): number | undefined {
    if (tokens > this.#tpm) return undefined;
    const { times, head } = window;
    let freeAt = at;
    // Calls that must leave for one more to fit: the oldest `excess` ones.
    const excess = window.requestsInWindow + 1 - this.#rpm;
    if (excess > 0) freeAt = Math.max(freeAt, times[head + excess - 1]! + QUOTA_WINDOW_MS);
    let surplus = window.tokensInWindow + tokens - this.#tpm;
    for (let i = head; surplus > 0 && i < times.length; i++) {
      surplus -= window.tokens[i]!;
      if (surplus <= 0) freeAt = Math.max(freeAt, times[i]! + QUOTA_WINDOW_MS);
    }
    return freeAt - at;
  }
}

/**
 * Formats milliseconds as a protobuf `Duration` in JSON: whole seconds as
 * `"17s"`, otherwise with three fractional digits, `"0.250s"`.
 */
export function formatDuration(ms: number): string {
  const whole = ms % 1000 === 0;
  return whole ? `${ms / 1000}s` : `${(ms / 1000).toFixed(3)}s`;
}

/** The quota metric, id and limit Gemini names for each violation. */
const METRICS: Record<QuotaViolation, { metric: string; id: string; what: string }> = {
  requests: {
    metric: "generativelanguage.googleapis.com/embed_content_free_tier_requests",
    id: "EmbedContentRequestsPerMinutePerProjectPerModel-FreeTier",
    what: "requests",
  },
  tokens: {
    metric: "generativelanguage.googleapis.com/embed_content_free_tier_input_token_count",
    id: "EmbedContentInputTokensPerModelPerMinute-FreeTier",
    what: "input tokens",
  },
};

/** Internal: the message, details and headers of a 429 answer. */
export function quotaExceeded(
  refusal: Extract<Admission, { ok: false }>,
  limits: { rpm: number; tpm: number },
  model: string,
): { message: string; details: unknown[]; headers: Record<string, string> } {
  const { violations, retryAfterMs } = refusal;
  const lines = violations.map((violation) =>
    `* Quota exceeded for metric: ${METRICS[violation].metric}, limit: ${
      violation === "requests" ? limits.rpm : limits.tpm
    }, model: ${model}`
  );
  const retry = retryAfterMs === undefined
    ? "This request alone needs more input tokens than the per-minute limit allows, so it can never succeed: send fewer or shorter texts."
    : `Please retry in ${formatDuration(retryAfterMs)}.`;
  const message =
    "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n" +
    `${lines.join("\n")}\n${retry}`;
  const details: unknown[] = [
    {
      "@type": "type.googleapis.com/google.rpc.QuotaFailure",
      violations: violations.map((violation) => ({
        quotaMetric: METRICS[violation].metric,
        quotaId: METRICS[violation].id,
        quotaDimensions: { location: "global", model },
        quotaValue: String(violation === "requests" ? limits.rpm : limits.tpm),
      })),
    },
    {
      "@type": "type.googleapis.com/google.rpc.Help",
      links: [{
        description: "Learn more about Gemini API quotas",
        url: "https://ai.google.dev/gemini-api/docs/rate-limits",
      }],
    },
  ];
  const headers: Record<string, string> = {};
  if (retryAfterMs !== undefined) {
    details.push({
      "@type": "type.googleapis.com/google.rpc.RetryInfo",
      retryDelay: formatDuration(retryAfterMs),
    });
    headers["retry-after"] = String(Math.ceil(retryAfterMs / 1000));
  }
  return { message, details, headers };
}
