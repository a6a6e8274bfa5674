/**
 * The lines of a Batch API embeddings job: the input line `{"key","request"}`
 * embatch uploads, and the result line the service writes back, either
 * `{"response":{"embedding":{"values":[…]},"tokenCount":"n"},"key"}` or
 * `{"error":{"code","message","status"},"key"}` (`GEMINI_BATCH_API.md` §3.4, §5).
 *
 * @module
 */

/** What every request of a job asks for. */
export interface JobRequestOptions {
  /** The model, with or without the `models/` prefix. */
  model: string;
  /** The vector length to ask for; the model's full size when unset. */
  dimensions?: number;
  /** Gemini's task type, such as `RETRIEVAL_DOCUMENT`. */
  taskType?: string;
  /** A document's title (gemini-embedding-001, with `RETRIEVAL_DOCUMENT`). */
  title?: string;
}

/**
 * Formats one input line of a job file, ending with a newline.
 *
 * @param key The key the result line will carry.
 * @param text The text to embed.
 * @param options The model, dimensions and task type.
 * @returns The JSONL line.
 *
 * @example One line
 * ```ts
 * import { jobLine } from "./job_lines.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   jobLine("7", "hi", { model: "gemini-embedding-001", dimensions: 8 }),
 *   '{"key":"7","request":{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hi"}]},"outputDimensionality":8}}\n',
 * );
 * ```
 */
export function jobLine(key: string, text: string, options: JobRequestOptions): string {
  const model = options.model.startsWith("models/") ? options.model : `models/${options.model}`;
  const request: Record<string, unknown> = { model, content: { parts: [{ text }] } };
  if (options.taskType !== undefined) request.taskType = options.taskType;
  if (options.title !== undefined) request.title = options.title;
  if (options.dimensions !== undefined) request.outputDimensionality = options.dimensions;
  return `${JSON.stringify({ key, request })}\n`;
}

/** A result line, parsed. */
export type ResultLine =
  | { key: string; values: number[]; tokens: number | undefined }
  | { key: string; error: { code: number; message: string; status: string | undefined } };

/**
 * Parses one result line. Returns `undefined` for a line that is neither a
 * response nor an error, or has no string key (the caller counts it as
 * missing).
 *
 * @param line One line of a result file, without its newline.
 * @returns The key with the vector and its token count, or with the error.
 *
 * @example A response and an error
 * ```ts
 * import { parseResultLine } from "./job_lines.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   parseResultLine('{"response":{"tokenCount":"3","embedding":{"values":[0.5,-0.5]}},"key":"1"}'),
 *   { key: "1", values: [0.5, -0.5], tokens: 3 },
 * );
 * assert.deepEqual(
 *   parseResultLine('{"error":{"code":500,"message":"Internal","status":"INTERNAL"},"key":"2"}'),
 *   { key: "2", error: { code: 500, message: "Internal", status: "INTERNAL" } },
 * );
 * assert.equal(parseResultLine("not json"), undefined);
 * ```
 */
export function parseResultLine(line: string): ResultLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value.key !== "string") return undefined;
  return parseResultItem(value.key, value);
}

/**
 * Parses a result item (a file line or an inline response) under `key`.
 *
 * @param key The key to report.
 * @param value The item: `{response}` or `{error}`.
 * @returns The parsed result, or `undefined` when it is neither.
 *
 * @example An inline response
 * ```ts
 * import { parseResultItem } from "./job_lines.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   parseResultItem("0", { response: { embedding: { values: [1] }, usageMetadata: { promptTokenCount: 2 } } }),
 *   { key: "0", values: [1], tokens: 2 },
 * );
 * ```
 */
export function parseResultItem(
  key: string,
  value: Record<string, unknown>,
): ResultLine | undefined {
  const { response, error } = value;
  if (isRecord(error)) {
    return {
      key,
      error: {
        code: typeof error.code === "number" ? error.code : 0,
        message: typeof error.message === "string" ? error.message : JSON.stringify(error),
        status: typeof error.status === "string" ? error.status : undefined,
      },
    };
  }
  if (!isRecord(response) || !isRecord(response.embedding)) return undefined;
  const values = response.embedding.values;
  if (!Array.isArray(values) || !values.every((v) => typeof v === "number")) return undefined;
  const usage = response.usageMetadata;
  const count = response.tokenCount ??
    (isRecord(usage) ? usage.promptTokenCount ?? usage.prompt_token_count : undefined) ??
    response.token_count;
  const tokens = count === undefined ? undefined : Number(count);
  return { key, values, tokens: Number.isFinite(tokens) ? tokens : undefined };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
