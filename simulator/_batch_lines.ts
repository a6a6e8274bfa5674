// Internal: parses one line of a batch job's input (`{"key","request"}`) as
// Gemini does, into the text to embed or the error line the job will answer.

/** One input line of a job: what to embed, or the error its result line carries. */
export type ParsedLine =
  | { key: string; text: string; dimensions: number }
  | { key: string; error: { code: number; message: string; status: string } };

/** The dimensionality when a request does not set one, and the largest allowed. */
const MAX_DIMENSIONS = 3072;

/**
 * Parses a job line: `key` (any string) and `request`, an
 * `EmbedContentRequest` in lowerCamel or snake_case whose `model`, when set,
 * must be the job's. A bad request becomes a `400 INVALID_ARGUMENT` error
 * line, as the service answers it in the result file, not at create.
 */
export function parseJobLine(
  value: unknown,
  index: number,
  model: string,
  version: string,
): ParsedLine {
  const fallbackKey = String(index);
  const bad = (key: string, message: string): ParsedLine => ({
    key,
    error: { code: 400, message, status: "INVALID_ARGUMENT" },
  });
  if (!isRecord(value)) {
    return bad(fallbackKey, `Invalid JSON payload received at line ${index + 1}.`);
  }
  const key = typeof value.key === "string" ? value.key : fallbackKey;
  const request = value.request;
  if (!isRecord(request)) return bad(key, "* EmbedContentRequest: request is required");
  const requestModel = request.model;
  if (requestModel !== undefined) {
    const bare = typeof requestModel === "string" ? requestModel.replace(/^models\//, "") : "";
    if (bare !== model) {
      return bad(
        key,
        `* EmbedContentRequest.model: the model of every request must be the batch's (models/${model}), received ${
          JSON.stringify(requestModel)
        }`,
      );
    }
  }
  const content = request.content;
  if (!isRecord(content) || !Array.isArray(content.parts) || content.parts.length === 0) {
    return bad(key, "* EmbedContentRequest.content: content.parts must not be empty");
  }
  let text = "";
  for (const part of content.parts) {
    if (!isRecord(part) || typeof part.text !== "string") {
      return bad(key, "* EmbedContentRequest.content.parts: the simulator embeds only text parts");
    }
    text += part.text;
  }
  if (text === "") return bad(key, "EmbedContentRequest.content contains an empty Part.");
  const requested = request.outputDimensionality ?? request.output_dimensionality;
  let dimensions = MAX_DIMENSIONS;
  if (requested !== undefined) {
    if (
      typeof requested !== "number" || !Number.isInteger(requested) || requested < 0 ||
      requested > MAX_DIMENSIONS
    ) {
      return bad(
        key,
        `Invalid value at 'request.output_dimensionality' (type.googleapis.com/google.ai.generativelanguage.${version}.EmbedContentRequest): must be from 1 to ${MAX_DIMENSIONS}, received ${
          JSON.stringify(requested)
        }`,
      );
    }
    if (requested > 0) dimensions = requested;
  }
  return { key, text, dimensions };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
