// Internal: an error answered to the client, rendered in the protocol it spoke:
// Gemini's {"error":{code,message,status}} or OpenAI's {"error":{message,type,param,code}}.

import { CircuitOpenError, EmbeddingBatcherClosedError, EmbeddingError } from "../errors.ts";

/** The protocol a request spoke, which decides the shape of its answers. */
export type Protocol = "gemini" | "openai";

/** What kind of failure, which sets the HTTP status and each protocol's codes. */
export type ErrorKind =
  | "invalid"
  | "unauthenticated"
  | "not_found"
  | "too_large"
  | "rate_limited"
  | "overloaded"
  | "deadline"
  | "upstream"
  | "internal";

const KINDS: Readonly<
  Record<ErrorKind, { status: number; gemini: string; openaiType: string; openaiCode: string }>
> = {
  invalid: {
    status: 400,
    gemini: "INVALID_ARGUMENT",
    openaiType: "invalid_request_error",
    openaiCode: "invalid_value",
  },
  unauthenticated: {
    status: 401,
    gemini: "UNAUTHENTICATED",
    openaiType: "invalid_request_error",
    openaiCode: "invalid_api_key",
  },
  not_found: {
    status: 404,
    gemini: "NOT_FOUND",
    openaiType: "invalid_request_error",
    openaiCode: "not_found",
  },
  too_large: {
    status: 413,
    gemini: "INVALID_ARGUMENT",
    openaiType: "invalid_request_error",
    openaiCode: "request_too_large",
  },
  rate_limited: {
    status: 429,
    gemini: "RESOURCE_EXHAUSTED",
    openaiType: "requests",
    openaiCode: "rate_limit_exceeded",
  },
  overloaded: {
    status: 503,
    gemini: "UNAVAILABLE",
    openaiType: "server_error",
    openaiCode: "overloaded",
  },
  deadline: {
    status: 504,
    gemini: "DEADLINE_EXCEEDED",
    openaiType: "server_error",
    openaiCode: "timeout",
  },
  upstream: {
    status: 502,
    gemini: "UNAVAILABLE",
    openaiType: "server_error",
    openaiCode: "upstream_error",
  },
  internal: {
    status: 500,
    gemini: "INTERNAL",
    openaiType: "server_error",
    openaiCode: "internal_error",
  },
};

/** Extra fields of an {@linkcode HttpError}. */
export interface HttpErrorInit {
  /** Seconds to send in `Retry-After`. */
  retryAfter?: number;
  /** The request field at fault (OpenAI's `param`). */
  param?: string;
  /** OpenAI's `code`, when more precise than the kind's. */
  openaiCode?: string;
}

/** An error to answer the client with; thrown by any stage of a request. */
export class HttpError extends Error {
  readonly status: number;

  constructor(readonly kind: ErrorKind, message: string, readonly init: HttpErrorInit = {}) {
    super(message);
    this.name = "HttpError";
    this.status = KINDS[kind].status;
  }

  /** The answer in `protocol`'s error shape, with `Retry-After` when set. */
  toResponse(protocol: Protocol): Response {
    const kind = KINDS[this.kind];
    const error = protocol === "gemini"
      ? { code: kind.status, message: this.message, status: kind.gemini }
      : {
        message: this.message,
        type: kind.openaiType,
        param: this.init.param ?? null,
        code: this.init.openaiCode ?? kind.openaiCode,
      };
    const headers: Record<string, string> = { "content-type": "application/json; charset=UTF-8" };
    if (this.init.retryAfter !== undefined) {
      headers["retry-after"] = String(Math.max(1, Math.ceil(this.init.retryAfter)));
    }
    return new Response(JSON.stringify({ error }), { status: kind.status, headers });
  }
}

/** Turns whatever a request failed with into the answer's error. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof EmbeddingBatcherClosedError) {
    return new HttpError("overloaded", "Server is shutting down: retry on another instance", {
      retryAfter: 1,
    });
  }
  if (error instanceof CircuitOpenError) {
    // Upstream cannot be reached: every call would fail alike until the breaker lets one through.
    return new HttpError("upstream", `Upstream unreachable: ${error.reason}`, { retryAfter: 30 });
  }
  if (!(error instanceof EmbeddingError)) {
    return new HttpError("internal", "Internal error: the request could not be served");
  }
  const { code, status = 0, message } = error;
  if (code === "TOKEN_LIMIT" || code === "EMPTY_TEXT") return new HttpError("invalid", message);
  if (code === "RESOURCE_EXHAUSTED" || status === 429) {
    return new HttpError(
      "overloaded",
      "Upstream quota exhausted: retries did not get through before the deadline",
      { retryAfter: 5 },
    );
  }
  if (status === 401 || status === 403 || /API key/i.test(message)) {
    return new HttpError("upstream", "Upstream refused the server's credentials");
  }
  if (status === 400) return new HttpError("invalid", `Upstream refused the request: ${message}`);
  if (status === 404) return new HttpError("not_found", `Upstream: ${message}`);
  return new HttpError("upstream", `Upstream call failed: ${code}`);
}
