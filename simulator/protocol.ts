// Internal: the simulator's protocol stage. Routes, authenticates and validates
// one batchEmbedContents call as Gemini does, and builds Gemini's error replies.

import { countTokens } from "./quota.ts";
import { GEMINI_TASK_TYPES } from "../gemini/task_types.ts";
import { modelProfile } from "../gemini/models.ts";

/** One media part of a request, after validation. */
export interface SimulatedMedia {
  /** The part's MIME type. */
  mimeType: string;
  /** The decoded bytes of an `inlineData` part. */
  data?: Uint8Array;
  /** The URI of a `fileData` part. */
  fileUri?: string;
}

/** One content of a batch (one vector), after validation. */
export interface SimulatedRequest {
  /** The text to embed: the request's text parts joined (`""` for media alone). */
  text: string;
  /** The media parts, in order, when there are any. */
  media?: SimulatedMedia[];
  /** How many values its vector has. */
  dimensions: number;
  /** The request's `taskType`, when it set one. */
  taskType?: string;
  /** The request's `title`, when it set one. */
  title?: string;
}

/** A validated `batchEmbedContents` call, as seen by the simulator's `onBatch` option. */
export interface SimulatedBatch {
  /** The API version from the path, `v1` or `v1beta`. */
  apiVersion: string;
  /** The model from the path, without the `models/` prefix. */
  model: string;
  /** The requests, in the order they arrived. */
  requests: readonly SimulatedRequest[];
}

/** The dimensionality of a vector when the request does not set one. */
export const DEFAULT_DIMENSIONS = 3072;
/** The largest `outputDimensionality` Gemini accepts. */
const MAX_DIMENSIONS = 3072;
/** The most requests one `batchEmbedContents` call may carry. */
const MAX_BATCH_SIZE = 100;
export const JSON_HEADERS = { "content-type": "application/json; charset=UTF-8" };

/**
 * Gemini's task types, as accepted in a request's `taskType`. The simulator
 * validates them but, unlike Gemini, does not let them change the vector.
 */
const TASK_TYPES: ReadonlySet<string> = new Set(["TASK_TYPE_UNSPECIFIED", ...GEMINI_TASK_TYPES]);

/** What the protocol stage needs of the handler's configuration. */
export interface ProtocolConfig {
  apiKeys: ReadonlySet<string> | undefined;
  models: ReadonlySet<string> | undefined;
  /** The per-content limit; the model's own (8,192 or 2,048) when unset. */
  maxInputTokens: number | undefined;
  onBatch: ((batch: SimulatedBatch) => void) | undefined;
}

/** A Gemini error reply, thrown by a stage and answered by the handler. */
export class ProtocolError extends Error {
  constructor(
    readonly status: number,
    readonly rpcStatus: string,
    message: string,
    readonly details?: readonly unknown[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  toResponse(): Response {
    return errorResponse(this.status, this.rpcStatus, this.message, this.details, this.headers);
  }
}

export function errorResponse(
  status: number,
  rpcStatus: string,
  message: string,
  details?: readonly unknown[],
  headers?: Record<string, string>,
): Response {
  const error = { code: status, message, status: rpcStatus, ...(details && { details }) };
  return new Response(JSON.stringify({ error }), {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

function invalidArgument(message: string): ProtocolError {
  return new ProtocolError(400, "INVALID_ARGUMENT", message);
}

/** Routes, authenticates and validates one call, returning it with its key. */
export async function parseCall(
  request: Request,
  config: ProtocolConfig,
): Promise<{ batch: SimulatedBatch; key: string }> {
  const { apiVersion, model } = route(request);
  const key = authenticate(request, config);
  checkModel(apiVersion, model, config);
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    throw invalidArgument("Invalid JSON payload received. Unexpected token.");
  }
  const batch = { apiVersion, model, requests: parseRequests(body, model, apiVersion) };
  const profile = modelProfile(model);
  const maxInputTokens = config.maxInputTokens ?? profile.maxInputTokens;
  batch.requests.forEach((request, index) => {
    checkMedia(request, index, profile);
    const tokens = requestTokens(request);
    if (tokens > maxInputTokens) {
      throw invalidArgument(
        `* BatchEmbedContentsRequest.requests[${index}].content: The input token count (${tokens}) exceeds the maximum number of tokens allowed (${maxInputTokens}).`,
      );
    }
  });
  config.onBatch?.(batch);
  return { batch, key };
}

/** Tokens the simulator counts per media part (Gemini counts 258 per image in generateContent). */
export const MEDIA_PART_TOKENS = 258;

/** The tokens of one content: {@linkcode countTokens} of its text plus a flat count per media part. */
export function requestTokens(request: SimulatedRequest): number {
  return countTokens(request.text) + (request.media?.length ?? 0) * MEDIA_PART_TOKENS;
}

/** Refuses media a model does not take, and more files of a kind than it allows per content. */
function checkMedia(
  request: SimulatedRequest,
  index: number,
  profile: ReturnType<typeof modelProfile>,
): void {
  const field = `* BatchEmbedContentsRequest.requests[${index}].content`;
  const counts = new Map<string, number>();
  for (const media of request.media ?? []) {
    const kind = Object.entries(profile.media).find(([, limit]) =>
      limit.mimeTypes.includes(media.mimeType)
    );
    if (kind === undefined) {
      throw invalidArgument(
        Object.keys(profile.media).length === 0
          ? `${field}: models/${profile.model} supports text input only, received ${media.mimeType}`
          : `${field}: Unsupported MIME type: ${media.mimeType}`,
      );
    }
    const [name, limit] = kind;
    const count = (counts.get(name) ?? 0) + 1;
    counts.set(name, count);
    if (count > limit.maxPerContent) {
      throw invalidArgument(
        `${field}: at most ${limit.maxPerContent} ${name} parts are allowed per content, received ${count}`,
      );
    }
  }
}

const ROUTE = /^\/(v1|v1beta)\/models\/([^/:]+):batchEmbedContents$/;

function route(request: Request): { apiVersion: string; model: string } {
  const { pathname } = new URL(request.url);
  const match = ROUTE.exec(pathname);
  if (match === null) {
    throw new ProtocolError(
      404,
      "NOT_FOUND",
      `Cannot find ${request.method} ${pathname}: the simulator serves only POST /{v1|v1beta}/models/{model}:batchEmbedContents`,
    );
  }
  if (request.method !== "POST") {
    // Gemini itself answers 404 here; 405 with Allow is the clearer HTTP answer.
    throw new ProtocolError(
      405,
      "METHOD_NOT_ALLOWED",
      `Cannot ${request.method} ${pathname}: batchEmbedContents accepts only POST`,
      undefined,
      { allow: "POST" },
    );
  }
  const [, apiVersion = "", model = ""] = match;
  return { apiVersion, model };
}

function checkModel(apiVersion: string, model: string, config: ProtocolConfig): void {
  if (config.models !== undefined && !config.models.has(model)) {
    throw new ProtocolError(
      404,
      "NOT_FOUND",
      `models/${model} is not found for API version ${apiVersion}, or is not supported for batchEmbedContents. Call ListModels to see the list of available models and their supported methods.`,
    );
  }
}

/**
 * Checks the key as Gemini does: the `x-goog-api-key` header or the `key`
 * query parameter. No key is `403 PERMISSION_DENIED` ("unregistered
 * callers"); a key that is not valid is `400 INVALID_ARGUMENT`, not 401.
 */
export function authenticate(
  request: Request,
  config: Pick<ProtocolConfig, "apiKeys">,
): string {
  const key = request.headers.get("x-goog-api-key") ??
    new URL(request.url).searchParams.get("key") ?? "";
  if (key === "") {
    throw new ProtocolError(
      403,
      "PERMISSION_DENIED",
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    );
  }
  if (config.apiKeys !== undefined && !config.apiKeys.has(key)) {
    throw new ProtocolError(
      400,
      "INVALID_ARGUMENT",
      "API key not valid. Please pass a valid API key.",
      [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "API_KEY_INVALID",
        domain: "googleapis.com",
        metadata: { service: "generativelanguage.googleapis.com" },
      }],
    );
  }
  return key;
}

/**
 * The fields of one request, by both JSON names that Google's parser accepts
 * (lowerCamelCase and the proto's snake_case), mapped to the proto name.
 */
const REQUEST_FIELDS: Readonly<Record<string, string>> = {
  model: "model",
  content: "content",
  taskType: "task_type",
  task_type: "task_type",
  title: "title",
  outputDimensionality: "output_dimensionality",
  output_dimensionality: "output_dimensionality",
};
/** Part fields Gemini knows but embedding models do not take. */
const NON_TEXT_PARTS: ReadonlySet<string> = new Set([
  "functionCall",
  "function_call",
  "functionResponse",
  "function_response",
  "executableCode",
  "executable_code",
  "codeExecutionResult",
  "code_execution_result",
]);

function parseRequests(body: unknown, model: string, apiVersion: string): SimulatedRequest[] {
  if (!isRecord(body)) {
    throw invalidArgument("Invalid JSON payload received. Expected an object at the top level.");
  }
  rejectUnknownFields(body, new Set(["requests"]), "");
  const { requests } = body;
  if (requests !== undefined && !Array.isArray(requests)) {
    throw invalidArgument(
      `Invalid value at 'requests' (type.googleapis.com/google.ai.generativelanguage.${apiVersion}.EmbedContentRequest), ${
        JSON.stringify(requests)
      }`,
    );
  }
  if (requests === undefined || requests.length === 0) {
    throw invalidArgument("* BatchEmbedContentsRequest.requests: at least one request is required");
  }
  if (requests.length > MAX_BATCH_SIZE) {
    throw invalidArgument(
      `* BatchEmbedContentsRequest.requests: at most ${MAX_BATCH_SIZE} requests can be in one batch`,
    );
  }
  return requests.map((request, index) => parseRequest(request, index, model, apiVersion));
}

function parseRequest(
  request: unknown,
  index: number,
  model: string,
  apiVersion: string,
): SimulatedRequest {
  const at = `requests[${index}]`;
  const field = `* BatchEmbedContentsRequest.${at}`;
  if (!isRecord(request)) {
    throw invalidArgument(`Invalid value at '${at}', ${JSON.stringify(request)}`);
  }
  rejectUnknownFields(request, new Set(Object.keys(REQUEST_FIELDS)), at);
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request)) fields[REQUEST_FIELDS[name]!] = value;

  if (typeof fields.model !== "string" || !fields.model.startsWith("models/")) {
    throw invalidArgument(`${field}.model: unexpected model name format`);
  }
  if (bareModel(fields.model) !== model) {
    throw invalidArgument(
      `${field}.model: the model of every request must match the model in the URL (models/${model}), received ${fields.model}`,
    );
  }

  const { text, media } = parseContent(fields.content, at, field);

  let dimensions = DEFAULT_DIMENSIONS;
  const requested = fields.output_dimensionality;
  if (requested !== undefined) {
    if (typeof requested !== "number" || !Number.isInteger(requested)) {
      throw invalidArgument(
        `Invalid value at '${at}.output_dimensionality' (TYPE_INT32), ${JSON.stringify(requested)}`,
      );
    }
    if (requested < 0 || requested > MAX_DIMENSIONS) {
      throw invalidArgument(
        `${field}.output_dimensionality: must be between 1 and ${MAX_DIMENSIONS}, received ${requested}`,
      );
    }
    // As in proto3, 0 is the unset value: the model's full size.
    if (requested > 0) dimensions = requested;
  }

  const result: SimulatedRequest = { text, dimensions, ...(media.length > 0 && { media }) };
  const { task_type: taskType, title } = fields;
  if (taskType !== undefined) {
    if (typeof taskType !== "string" || !TASK_TYPES.has(taskType)) {
      throw invalidArgument(
        `Invalid value at '${at}.task_type' (type.googleapis.com/google.ai.generativelanguage.${apiVersion}.TaskType), ${
          JSON.stringify(taskType)
        }`,
      );
    }
    result.taskType = taskType;
  }
  if (title !== undefined) {
    if (typeof title !== "string") {
      throw invalidArgument(
        `Invalid value at '${at}.title' (TYPE_STRING), ${JSON.stringify(title)}`,
      );
    }
    result.title = title;
  }
  return result;
}

/** Returns a content's text parts joined and its media parts; never empty. */
function parseContent(
  content: unknown,
  at: string,
  field: string,
): { text: string; media: SimulatedMedia[] } {
  if (content === undefined) {
    throw invalidArgument(`${field}.content: content is required`);
  }
  if (!isRecord(content)) {
    throw invalidArgument(`Invalid value at '${at}.content', ${JSON.stringify(content)}`);
  }
  rejectUnknownFields(content, new Set(["parts", "role"]), `${at}.content`);
  const { parts } = content;
  if (!Array.isArray(parts) || parts.length === 0) {
    throw invalidArgument(`${field}.content.parts: contents.parts must not be empty`);
  }
  let text = "";
  const media: SimulatedMedia[] = [];
  parts.forEach((part: unknown, index) => {
    const partAt = `${at}.content.parts[${index}]`;
    if (!isRecord(part)) {
      throw invalidArgument(`Invalid value at '${partAt}', ${JSON.stringify(part)}`);
    }
    const nonText = Object.keys(part).find((name) => NON_TEXT_PARTS.has(name));
    if (nonText !== undefined) {
      throw invalidArgument(
        `${field}.content.parts[${index}]: embedding models do not take ${nonText} parts`,
      );
    }
    rejectUnknownFields(part, new Set(Object.keys(PART_FIELDS)), partAt);
    const kinds = Object.keys(part);
    if (kinds.length !== 1) {
      throw invalidArgument(
        `${field}.content.parts[${index}].data: required oneof field 'data' must have one initialized field`,
      );
    }
    const kind = PART_FIELDS[kinds[0]!];
    if (kind === "text") {
      if (typeof part[kinds[0]!] !== "string") {
        throw invalidArgument(`Invalid value at '${partAt}.text' (TYPE_STRING)`);
      }
      text += part[kinds[0]!];
    } else {
      media.push(parseMedia(part[kinds[0]!], kind!, `${partAt}.${kinds[0]}`));
    }
  });
  if (text === "" && media.length === 0) {
    throw invalidArgument(`${field}.content: text must not be empty`);
  }
  return { text, media };
}

/** The data fields of a part, by both JSON names, mapped to their kind. */
const PART_FIELDS: Readonly<Record<string, "text" | "inline" | "file">> = {
  text: "text",
  inlineData: "inline",
  inline_data: "inline",
  fileData: "file",
  file_data: "file",
};

function parseMedia(value: unknown, kind: "inline" | "file", at: string): SimulatedMedia {
  if (!isRecord(value)) throw invalidArgument(`Invalid value at '${at}', ${JSON.stringify(value)}`);
  const mimeType = value.mimeType ?? value.mime_type;
  if (typeof mimeType !== "string" || mimeType === "") {
    throw invalidArgument(`* ${at}.mime_type: mime_type is required`);
  }
  if (kind === "file") {
    rejectUnknownFields(value, new Set(["mimeType", "mime_type", "fileUri", "file_uri"]), at);
    const fileUri = value.fileUri ?? value.file_uri;
    if (typeof fileUri !== "string" || fileUri === "") {
      throw invalidArgument(`* ${at}.file_uri: file_uri is required`);
    }
    return { mimeType, fileUri };
  }
  rejectUnknownFields(value, new Set(["mimeType", "mime_type", "data"]), at);
  const { data } = value;
  let bytes: Uint8Array | undefined;
  try {
    if (typeof data === "string") bytes = Uint8Array.fromBase64(data);
  } catch {
    bytes = undefined;
  }
  if (bytes === undefined || bytes.length === 0) {
    throw invalidArgument(`Invalid value at '${at}.data' (TYPE_BYTES), Base64 decoding failed`);
  }
  return { mimeType, data: bytes };
}

function rejectUnknownFields(
  object: Record<string, unknown>,
  known: ReadonlySet<string>,
  at: string,
): void {
  const unknown = Object.keys(object).find((name) => !known.has(name));
  if (unknown !== undefined) {
    const where = at === "" ? "" : ` at '${at}'`;
    throw invalidArgument(
      `Invalid JSON payload received. Unknown name ${
        JSON.stringify(unknown)
      }${where}: Cannot find field.`,
    );
  }
}

/** The model name without the `models/` prefix. */
export function bareModel(model: string): string {
  return model.startsWith("models/") ? model.slice("models/".length) : model;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
