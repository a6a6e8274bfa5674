// Internal: client tokens. Compared in constant time (SHA-256 digests of equal
// length, timingSafeEqual against every token), never logged or echoed.

import { createHash, timingSafeEqual } from "node:crypto";

function digest(token: string): Uint8Array {
  return createHash("sha256").update(token).digest();
}

/** The tokens clients may present; identifies which one a request carries. */
export class TokenSet {
  readonly #digests: Uint8Array[];

  /** @throws {TypeError} If a token is empty or has surrounding whitespace. */
  constructor(tokens: readonly string[]) {
    for (const token of tokens) {
      if (token === "" || token.trim() !== token) {
        throw new TypeError(
          `Cannot use client token: a token must be non-empty without surrounding whitespace, received one of ${token.length} characters`,
        );
      }
    }
    this.#digests = [...new Set(tokens)].map(digest);
  }

  /** How many distinct tokens there are; 0 means no authentication. */
  get size(): number {
    return this.#digests.length;
  }

  /**
   * The index of the token matching `presented`, or -1. Every token is
   * compared, so the time taken does not depend on which one matched.
   */
  match(presented: string): number {
    const candidate = digest(presented);
    let found = -1;
    this.#digests.forEach((known, index) => {
      if (timingSafeEqual(known, candidate) && found === -1) found = index;
    });
    return found;
  }
}

/**
 * The token a request carries, as each protocol sends it: `x-goog-api-key`
 * (Gemini SDKs), `Authorization: Bearer` (OpenAI SDKs), or `?key=` (Gemini REST).
 */
export function requestToken(request: Request, url: URL): string | undefined {
  const goog = request.headers.get("x-goog-api-key");
  if (goog !== null && goog !== "") return goog;
  const authorization = request.headers.get("authorization");
  if (authorization !== null) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match !== null) return match[1];
  }
  const key = url.searchParams.get("key");
  return key === null || key === "" ? undefined : key;
}
