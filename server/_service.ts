// Internal: the engine behind createEmbeddingHandler. One instance per
// handler: routing, the per-request scope (auth, client limits, deadline,
// disconnect, drain), the two protocols, metrics and the graceful close.

import { EmbeddingMetrics } from "../metrics.ts";
import { requestToken, TokenSet } from "./_auth.ts";
import { readJsonBody } from "./_body.ts";
import { ClientLimits } from "./_client_limits.ts";
import { Coalescer, type CoalescerOptions, type GroupedText } from "./_coalescer.ts";
import { Deadlines } from "./_deadlines.ts";
import {
  batchEmbedContentsResponse,
  embedContentResponse,
  parseBatchEmbedContents,
  parseEmbedContent,
} from "./_gemini_protocol.ts";
import { HttpError, type Protocol, toHttpError } from "./_http_error.ts";
import { bareModel } from "./_model.ts";
import { embeddingsResponse, parseEmbeddingsRequest } from "./_openai_protocol.ts";
import { ServerMetrics } from "./_server_metrics.ts";

const GEMINI_ROUTE = /^\/(v1|v1beta)\/models\/([^/:]+):(embedContent|batchEmbedContents)$/;
const CLIENT_GONE = new DOMException("The client disconnected", "AbortError");
const ROUTES_HELP =
  "embatch serves POST /v1/embeddings, POST /{v1,v1beta}/models/{model}:embedContent and :batchEmbedContents, GET /healthz and GET /metrics";

/** The handler's options, validated and with defaults filled in. */
export interface ServiceConfig {
  tokens: readonly string[];
  models: readonly string[] | undefined;
  clientConcurrency: number;
  clientRps: number;
  requestTimeoutMs: number;
  maxBodyBytes: number;
  batching: Omit<CoalescerOptions, "resilience" | "metrics" | "onItemLatency">;
  resilience: CoalescerOptions["resilience"];
  onLog: ((line: string) => void) | undefined;
}

/** What an embedding route makes of a parsed body: the texts, and how to answer with their vectors. */
type Work = (body: unknown) => { items: GroupedText[]; answer: (vectors: number[][]) => unknown };

/** A matched route: its metrics label, the protocol of its answers, and what runs it. */
interface Route {
  name: string;
  protocol: Protocol;
  run: () => Promise<Response>;
}

/** The handler's state and behaviour. */
export class EmbeddingService {
  readonly #config: ServiceConfig;
  readonly #tokens: TokenSet;
  readonly #limits: ClientLimits;
  readonly #served: ReadonlySet<string> | undefined;
  readonly #metrics: ServerMetrics;
  readonly #coalescer: Coalescer;
  readonly #deadlines: Deadlines;
  readonly #onStop = new Set<() => void>();
  #inFlight = 0;
  #reading = 0; // requests accepted whose texts are not queued yet
  #draining = false;
  #idle: (() => void) | undefined;
  #allRead: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(config: ServiceConfig) {
    this.#config = config;
    this.#tokens = new TokenSet(config.tokens);
    this.#limits = new ClientLimits(config.clientConcurrency, config.clientRps);
    this.#served = config.models === undefined ? undefined : new Set(config.models.map(bareModel));
    this.#deadlines = new Deadlines(config.requestTimeoutMs);
    const upstream = new EmbeddingMetrics();
    const metrics = new ServerMetrics({
      upstream,
      queueDepth: () => this.pending,
      inFlight: () => this.#inFlight,
    });
    this.#metrics = metrics;
    this.#coalescer = new Coalescer({
      ...config.batching,
      resilience: {
        ...config.resilience,
        onCall: (record) => {
          metrics.batchTexts.observe(record.texts);
          metrics.callLatency.observe(record.latencyMs / 1000);
        },
      },
      metrics: upstream,
      onItemLatency: (ms) => metrics.itemLatency.observe(ms / 1000),
    });
  }

  /** Texts admitted and not yet answered. */
  get pending(): number {
    return this.#coalescer.pending;
  }

  /** Embedding requests being served. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The Prometheus exposition text. */
  metricsText(): string {
    return this.#metrics.render();
  }

  /** Answers one request; never rejects. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const route = this.#route(request, url);
    let response: Response;
    try {
      response = await route.run();
    } catch (error) {
      response = this.#failure(error, request, url, route.protocol);
    }
    this.#metrics.requests.inc({ route: route.name, code: String(response.status) });
    return response;
  }

  /** Drains: see `EmbeddingHandler.close`. */
  close(graceMs: number): Promise<void> {
    this.#closing ??= this.#drain(graceMs);
    return this.#closing;
  }

  #failure(error: unknown, request: Request, url: URL, protocol: Protocol): Response {
    if (error === CLIENT_GONE) return new Response(null, { status: 499 });
    const httpError = toHttpError(error);
    if (httpError.status >= 500) {
      const cause = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.#config.onLog?.(
        `embatch: ${request.method} ${url.pathname} ${httpError.status}: ${httpError.message} (${cause})`,
      );
    }
    return httpError.toResponse(protocol);
  }

  #route(request: Request, url: URL): Route {
    const { pathname } = url;
    const only = (method: string, name: string, protocol: Protocol, run: Route["run"]): Route => ({
      name,
      protocol,
      run: request.method === method ? run : () => {
        throw new HttpError("not_found", `Cannot ${request.method} ${pathname}: use ${method}`);
      },
    });
    if (pathname === "/v1/embeddings") {
      return only("POST", "openai", "openai", () => this.#openai(request, url));
    }
    const match = GEMINI_ROUTE.exec(pathname);
    if (match !== null) {
      const name = match[3] === "embedContent" ? "gemini_embed" : "gemini_batch";
      return only("POST", name, "gemini", () => this.#gemini(request, url, match));
    }
    if (pathname === "/healthz") return only("GET", "healthz", "gemini", () => this.#health());
    if (pathname === "/metrics") return only("GET", "metrics", "gemini", () => this.#scrape());
    const protocol = pathname.startsWith("/v1/") && !pathname.includes("/models/")
      ? "openai"
      : "gemini";
    return {
      name: "other",
      protocol,
      run: () => {
        throw new HttpError("not_found", `Cannot ${request.method} ${pathname}: ${ROUTES_HELP}`);
      },
    };
  }

  #health(): Promise<Response> {
    const draining = this.#draining;
    const body = { status: draining ? "draining" : "ok" };
    return Promise.resolve(Response.json(body, { status: draining ? 503 : 200 }));
  }

  #scrape(): Promise<Response> {
    return Promise.resolve(
      new Response(this.#metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      }),
    );
  }

  #gemini(request: Request, url: URL, match: RegExpExecArray): Promise<Response> {
    const [, , encodedModel = "", method] = match;
    const model = bareModel(decodeURIComponent(encodedModel));
    this.#checkModel(model, "gemini");
    const route = method === "embedContent" ? "gemini_embed" : "gemini_batch";
    return this.#embed(request, url, route, (body) => {
      if (method === "embedContent") {
        const item = parseEmbedContent(body, model);
        return { items: [item], answer: ([vector]) => embedContentResponse(vector!) };
      }
      return { items: parseBatchEmbedContents(body, model), answer: batchEmbedContentsResponse };
    });
  }

  #openai(request: Request, url: URL): Promise<Response> {
    return this.#embed(request, url, "openai", (body) => {
      const parsed = parseEmbeddingsRequest(body);
      this.#checkModel(parsed.model, "openai");
      const group = {
        model: parsed.model,
        ...(parsed.dimensions !== undefined && { dimensions: parsed.dimensions }),
      };
      return {
        items: parsed.texts.map((text) => ({ text, group })),
        answer: (vectors) => embeddingsResponse(parsed, vectors),
      };
    });
  }

  #checkModel(model: string, protocol: Protocol): void {
    const served = this.#served;
    if (served === undefined || served.has(model)) return;
    const list = [...served].join(", ");
    throw new HttpError(
      "not_found",
      protocol === "gemini"
        ? `models/${model} is not found: this server serves ${list}`
        : `The model '${model}' does not exist: this server serves ${list}`,
      { openaiCode: "model_not_found", param: "model" },
    );
  }

  /** Admits the request, reads its body, queues its texts and answers with their vectors. */
  async #embed(request: Request, url: URL, route: string, work: Work): Promise<Response> {
    const release = this.#admit(request, url);
    const scope = this.#begin(request);
    try {
      const body = await this.#count(
        readJsonBody(request, this.#config.maxBodyBytes),
        413,
        "body_too_large",
      );
      const { items, answer } = work(body);
      this.#metrics.texts.inc({ route }, items.length);
      const embedding = this.#coalescer.embedAll(items, scope.signal);
      scope.queued(); // its texts are queued: a drain may now flush the batches
      return Response.json(answer(await this.#count(embedding, 503, "queue_full")));
    } finally {
      scope.end();
      release();
    }
  }

  /** Counts a refusal of `status` under `reason` when `promise` rejects with it. */
  async #count<T>(promise: Promise<T>, status: number, reason: string): Promise<T> {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof HttpError && error.status === status) {
        this.#metrics.rejected.inc({ reason });
      }
      throw error;
    }
  }

  /** Refuses while draining, authenticates, and applies the client's limits; returns the release. */
  #admit(request: Request, url: URL): () => void {
    const refuse = (reason: string, error: HttpError): never => {
      this.#metrics.rejected.inc({ reason });
      throw error;
    };
    if (this.#draining) {
      refuse(
        "draining",
        new HttpError("overloaded", "Server is shutting down: retry on another instance", {
          retryAfter: 1,
        }),
      );
    }
    let client = 0;
    if (this.#tokens.size > 0) {
      const presented = requestToken(request, url);
      client = presented === undefined ? -1 : this.#tokens.match(presented);
      if (client < 0) {
        refuse(
          "auth",
          new HttpError(
            "unauthenticated",
            presented === undefined
              ? "Missing client token: send it as x-goog-api-key, Authorization: Bearer, or ?key="
              : "Invalid client token",
          ),
        );
      }
    }
    const admission = this.#limits.admit(client);
    if (admission.ok) return admission.release;
    return refuse(
      `client_${admission.reason}`,
      new HttpError(
        "rate_limited",
        admission.reason === "concurrency"
          ? `Too many requests in flight for this client: the limit is ${this.#limits.concurrency}`
          : `Too many requests for this client: the limit is ${this.#limits.rps} per second`,
        { retryAfter: admission.retryAfterSeconds },
      ),
    );
  }

  /**
   * Opens a request's scope: a signal that aborts when the client goes away,
   * the deadline passes, or the drain's grace period ends; `queued()` once its
   * texts are queued, `end()` when it is answered.
   */
  #begin(request: Request): { signal: AbortSignal; queued: () => void; end: () => void } {
    const controller = new AbortController();
    const onClientGone = () => controller.abort(CLIENT_GONE);
    const onStop = () =>
      controller.abort(
        new HttpError("overloaded", "Server shut down before the request finished", {
          retryAfter: 1,
        }),
      );
    const timeoutMs = this.#config.requestTimeoutMs;
    const finished = this.#deadlines.add(() =>
      controller.abort(new HttpError("deadline", `Request deadline exceeded: ${timeoutMs} ms`))
    );
    request.signal.addEventListener("abort", onClientGone, { once: true });
    // A set rather than a listener each on one long-lived signal: removing one
    // of thousands of listeners scans them all.
    this.#onStop.add(onStop);
    this.#inFlight++;
    this.#reading++;
    let reading = true;
    const queued = () => {
      if (!reading) return;
      reading = false;
      if (--this.#reading === 0) this.#allRead?.();
    };
    const end = () => {
      queued();
      finished();
      request.signal.removeEventListener("abort", onClientGone);
      this.#onStop.delete(onStop);
      if (--this.#inFlight === 0) this.#idle?.();
    };
    return { signal: controller.signal, queued, end };
  }

  async #drain(graceMs: number): Promise<void> {
    this.#draining = true;
    const allIdle = new Promise<void>((resolve) => {
      this.#idle = resolve;
      if (this.#inFlight === 0) resolve();
    });
    // Requests already accepted finish reading their bodies and queue their
    // texts; then the batches are flushed at once.
    const flushed = new Promise<void>((resolve) => {
      this.#allRead = resolve;
      if (this.#reading === 0) resolve();
    }).then(() => this.#coalescer.close());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"grace">((resolve) => {
      timer = setTimeout(() => resolve("grace"), graceMs);
    });
    const outcome = await Promise.race([Promise.all([allIdle, flushed]), graceOver]);
    clearTimeout(timer);
    if (outcome === "grace") { for (const stop of [...this.#onStop]) stop(); }
    await allIdle;
  }
}
