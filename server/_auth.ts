// Internal: client tokens, never logged or echoed. A presented token is
// compared with every known token in constant time: byte-wise XOR over the
// known token's full length, the length difference folded in, no early exit.
// (node:crypto's SHA-256 and timingSafeEqual cost more than the rest of a
// request together; this loop is a few dozen nanoseconds.)

const encoder = new TextEncoder();

/** Whether `presented` equals `known`, in time that depends only on `known.length`. */
function constantTimeEqual(known: Uint8Array, presented: Uint8Array): boolean {
  let difference = known.length ^ presented.length;
  for (let i = 0; i < known.length; i++) {
    difference |= known[i]! ^ (presented[i % Math.max(1, presented.length)] ?? 0);
  }
  return difference === 0;
}

/** The tokens clients may present; identifies which one a request carries. */
export class TokenSet {
  readonly #tokens: Uint8Array[];

  /** @throws {TypeError} If a token is empty or has surrounding whitespace. */
  constructor(tokens: readonly string[]) {
    for (const token of tokens) {
      if (token === "" || token.trim() !== token) {
        throw new TypeError(
          `Cannot use client token: a token must be non-empty without surrounding whitespace, received one of ${token.length} characters`,
        );
      }
    }
    this.#tokens = [...new Set(tokens)].map((token) => encoder.encode(token));
  }

  /** How many distinct tokens there are; 0 means no authentication. */
  get size(): number {
    return this.#tokens.length;
  }

  /**
   * The index of the token matching `presented`, or -1. Every token is
   * compared, so the time taken does not depend on which one matched.
   */
  match(presented: string): number {
    const candidate = encoder.encode(presented);
    let found = -1;
    for (let index = 0; index < this.#tokens.length; index++) {
      const equal = constantTimeEqual(this.#tokens[index]!, candidate);
      if (equal && found === -1) found = index;
    }
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
