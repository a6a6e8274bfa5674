// Internal: an error answered to the client, rendered in the protocol it spoke:
// Gemini's {"error":{code,message,status}} or OpenAI's {"error":{message,type,param,code}}.

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
