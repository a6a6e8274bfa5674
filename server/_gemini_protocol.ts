// Internal: Gemini REST embedContent / batchEmbedContents requests and answers,
// field names in lowerCamelCase or the proto's snake_case as Google accepts.

import { GEMINI_TASK_TYPES, type GeminiTaskType } from "../gemini/task_types.ts";
import { HttpError } from "./_http_error.ts";
import { bareModel, MAX_DIMENSIONS } from "./_model.ts";
import type { EmbedGroup } from "./upstream.ts";

/** One text to embed and the group it is batched with. */
export interface TextItem {
  text: string;
  group: EmbedGroup;
}

/** The most texts one request may carry (Gemini's own batchEmbedContents rule). */
export const MAX_TEXTS_PER_REQUEST = 100;

const FIELDS: Readonly<Record<string, string>> = {
  model: "model",
  content: "content",
  taskType: "taskType",
  task_type: "taskType",
  title: "title",
  outputDimensionality: "outputDimensionality",
  output_dimensionality: "outputDimensionality",
};
const TASK_TYPES: ReadonlySet<string> = new Set(GEMINI_TASK_TYPES);

function invalid(message: string): HttpError {
  return new HttpError("invalid", message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Parses an `embedContent` body for the model in the URL. */
export function parseEmbedContent(body: unknown, model: string): TextItem {
  if (!isRecord(body)) throw invalid("Invalid JSON payload received: expected an object");
  return parseRequest(body, model, "EmbedContentRequest", false);
}

/** Parses a `batchEmbedContents` body for the model in the URL. */
export function parseBatchEmbedContents(body: unknown, model: string): TextItem[] {
  if (!isRecord(body)) throw invalid("Invalid JSON payload received: expected an object");
  const unknown = Object.keys(body).find((name) => name !== "requests");
  if (unknown !== undefined) {
    throw invalid(`Invalid JSON payload received. Unknown name "${unknown}": Cannot find field.`);
  }
  const { requests } = body;
  if (!Array.isArray(requests) || requests.length === 0) {
    throw invalid("* BatchEmbedContentsRequest.requests: at least one request is required");
  }
  if (requests.length > MAX_TEXTS_PER_REQUEST) {
    throw invalid(
      `* BatchEmbedContentsRequest.requests: at most ${MAX_TEXTS_PER_REQUEST} requests can be in one batch, received ${requests.length}`,
    );
  }
  return requests.map((request, index) => {
    if (!isRecord(request)) {
      throw invalid(`Invalid value at 'requests[${index}]': expected an object`);
    }
    return parseRequest(request, model, `BatchEmbedContentsRequest.requests[${index}]`, true);
  });
}

function parseRequest(
  request: Record<string, unknown>,
  model: string,
  at: string,
  modelRequired: boolean,
): TextItem {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request)) {
    const field = FIELDS[name];
    if (field === undefined) {
      throw invalid(`Invalid JSON payload received. Unknown name "${name}" at '${at}'`);
    }
    fields[field] = value;
  }
  if (fields.model !== undefined || modelRequired) {
    if (typeof fields.model !== "string" || bareModel(fields.model) !== model) {
      throw invalid(
        `* ${at}.model: the model of every request must match the model in the URL (models/${model}), received ${
          JSON.stringify(fields.model)
        }`,
      );
    }
  }
  const group: EmbedGroup = { model };
  const { outputDimensionality: dimensions, taskType, title } = fields;
  if (dimensions !== undefined && dimensions !== 0) {
    if (
      typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 ||
      dimensions > MAX_DIMENSIONS
    ) {
      throw invalid(
        `* ${at}.output_dimensionality: must be between 1 and ${MAX_DIMENSIONS}, received ${
          JSON.stringify(dimensions)
        }`,
      );
    }
    group.dimensions = dimensions;
  }
  if (taskType !== undefined && taskType !== "TASK_TYPE_UNSPECIFIED") {
    if (typeof taskType !== "string" || !TASK_TYPES.has(taskType)) {
      throw invalid(`Invalid value at '${at}.task_type': received ${JSON.stringify(taskType)}`);
    }
    group.taskType = taskType as GeminiTaskType;
  }
  if (title !== undefined) {
    if (typeof title !== "string") {
      throw invalid(`Invalid value at '${at}.title': received ${JSON.stringify(title)}`);
    }
    group.title = title;
  }
  return { text: parseContent(fields.content, at), group };
}

/** The text of a content: its text parts joined. Other parts are refused. */
function parseContent(content: unknown, at: string): string {
  if (!isRecord(content) || !Array.isArray(content.parts) || content.parts.length === 0) {
    throw invalid(`* ${at}.content: a content with at least one part is required`);
  }
  let text = "";
  content.parts.forEach((part: unknown, index) => {
    if (!isRecord(part) || typeof part.text !== "string") {
      const name = isRecord(part) ? Object.keys(part)[0] : typeof part;
      throw invalid(
        `* ${at}.content.parts[${index}]: embatch serves text parts only, received ${name}`,
      );
    }
    text += part.text;
  });
  if (text === "") throw invalid(`* ${at}.content: text must not be empty`);
  return text;
}

/** The answer to `embedContent`. */
export function embedContentResponse(vector: readonly number[]): unknown {
  return { embedding: { values: vector } };
}

/** The answer to `batchEmbedContents`, in request order. */
export function batchEmbedContentsResponse(vectors: readonly (readonly number[])[]): unknown {
  return { embeddings: vectors.map((values) => ({ values })) };
}
