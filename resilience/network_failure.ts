/**
 * What a failed request's error says about the connection: whether it is a
 * network failure or a timeout (as opposed to an answer from the server), the
 * host it went to, and the cause in a few words. `fetch` rejects with a bare
 * `TypeError: fetch failed` and puts the reason in its `cause` chain
 * (`… tcp connect error: Connection refused (os error 111)`); this digs it out.
 *
 * @module
 */

/** A failed request, as read by {@linkcode describeNetworkFailure}. */
export interface NetworkFailure {
  /** `"network"` (no connection or it broke), `"timeout"` (no answer in time), or `"other"`. */
  kind: "network" | "timeout" | "other";
  /** The host (and port) from the failed URL, when the error names it. */
  host: string | undefined;
  /** The cause in a few words: `connection refused`, `dns error`, `no answer within 30s`. */
  reason: string;
}

const CAUSES: readonly [RegExp, string][] = [
  [/connection refused|ECONNREFUSED/i, "connection refused"],
  [
    /dns error|failed to lookup address|name or service not known|ENOTFOUND|EAI_AGAIN|nodename nor servname/i,
    "dns error",
  ],
  [/connection reset|ECONNRESET/i, "connection reset"],
  [/connection closed|broken pipe|EPIPE|unexpected eof|incomplete message/i, "connection closed"],
  [/network is unreachable|no route to host|ENETUNREACH|EHOSTUNREACH/i, "network unreachable"],
  [/certificate|tls|ssl/i, "tls error"],
  [/requests to port \d+ are blocked/i, "port blocked by the runtime"],
];

/**
 * Reads a failed request's error: its kind, host and cause.
 *
 * A `TimeoutError` is a timeout (its message's `no answer within …` is kept);
 * a `TypeError` (how `fetch` reports a failed connection) is a network
 * failure; anything else is `"other"`.
 *
 * @param error What the request rejected with.
 * @returns The kind, host and reason.
 *
 * @example A refused connection, as Deno's fetch reports it
 * ```ts
 * import { describeNetworkFailure } from "./network_failure.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new TypeError("fetch failed", {
 *   cause: new Error(
 *     "error sending request for url (http://127.0.0.1:4000/v1/models/m:batchEmbedContents): " +
 *       "client error (Connect): tcp connect error: Connection refused (os error 111)",
 *   ),
 * });
 * assert.deepEqual(describeNetworkFailure(error), {
 *   kind: "network",
 *   host: "127.0.0.1:4000",
 *   reason: "connection refused",
 * });
 * ```
 */
export function describeNetworkFailure(error: unknown): NetworkFailure {
  const messages: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 8; depth++) {
    if (e instanceof Error) {
      messages.push(e.message);
      e = e.cause;
    } else {
      messages.push(String(e));
      break;
    }
  }
  const text = messages.join(" | ");
  const host = hostIn(text);
  if (error instanceof Error && error.name === "TimeoutError") {
    const within = /no answer within [^\s|)]+/i.exec(text)?.[0];
    return { kind: "timeout", host, reason: within ?? "timed out" };
  }
  if (!(error instanceof TypeError)) return { kind: "other", host, reason: messages[0] ?? "" };
  const known = CAUSES.find(([pattern]) => pattern.test(text));
  const innermost = messages.at(-1) ?? "";
  return { kind: "network", host, reason: known ? known[1] : innermost };
}

/** The host of the first URL a message names (`… for url (http://host:port/…)`). */
function hostIn(text: string): string | undefined {
  const url = /https?:\/\/[^\s)|]+/.exec(text)?.[0];
  if (url === undefined) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}
