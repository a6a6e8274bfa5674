// Internal: OpenAI's POST /v1/embeddings request and answer. `input` is a
// string or an array of strings (token arrays are refused: there is no
// tokenizer to decode them); `encoding_format: "base64"` packs each vector as
// little-endian float32, which is what the official SDKs ask for by default.

import { estimateTokens } from "../resilience/tokens.ts";
import { HttpError } from "./_http_error.ts";
import { MAX_TEXTS_PER_REQUEST } from "./_gemini_protocol.ts";
import { bareModel, MAX_DIMENSIONS } from "./_model.ts";

/** A parsed embeddings request. */
export interface OpenAIRequest {
  texts: string[];
  model: string;
  dimensions?: number;
  encoding: "float" | "base64";
}

function invalid(message: string, param: string): HttpError {
  return new HttpError("invalid", message, { param });
}

/** Parses a `/v1/embeddings` body. */
export function parseEmbeddingsRequest(body: unknown): OpenAIRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid("Invalid request: the body must be a JSON object", "body");
  }
  const { input, model, dimensions, encoding_format: encoding = "float" } = body as Record<
    string,
    unknown
  >;
  if (typeof model !== "string" || model === "") {
    throw invalid("Invalid 'model': expected a model name like gemini-embedding-001", "model");
  }
  const texts = typeof input === "string" ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0) {
    throw invalid("Invalid 'input': expected a string or a non-empty array of strings", "input");
  }
  if (texts.length > MAX_TEXTS_PER_REQUEST) {
    throw invalid(
      `Invalid 'input': at most ${MAX_TEXTS_PER_REQUEST} inputs per request, received ${texts.length}`,
      "input",
    );
  }
  texts.forEach((text: unknown, index) => {
    if (typeof text !== "string") {
      throw invalid(
        `Invalid 'input[${index}]': expected a string (token arrays are not supported), received ${
          JSON.stringify(text)
        }`,
        "input",
      );
    }
    if (text === "") {
      throw invalid(`Invalid 'input[${index}]': the string must not be empty`, "input");
    }
  });
  if (encoding !== "float" && encoding !== "base64") {
    throw invalid(
      `Invalid 'encoding_format': expected float or base64, received ${JSON.stringify(encoding)}`,
      "encoding_format",
    );
  }
  const request: OpenAIRequest = { texts: texts as string[], model: bareModel(model), encoding };
  if (dimensions !== undefined && dimensions !== null) {
    if (
      typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 ||
      dimensions > MAX_DIMENSIONS
    ) {
      throw invalid(
        `Invalid 'dimensions': expected a whole number from 1 to ${MAX_DIMENSIONS}, received ${
          JSON.stringify(dimensions)
        }`,
        "dimensions",
      );
    }
    request.dimensions = dimensions;
  }
  return request;
}

/** Packs a vector as little-endian float32, base64-encoded. */
export function float32Base64(vector: readonly number[]): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  vector.forEach((value, i) => view.setFloat32(i * 4, value, true));
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The answer: one `embedding` object per input, in order, with the usage. */
export function embeddingsResponse(
  request: OpenAIRequest,
  vectors: readonly (readonly number[])[],
): unknown {
  const tokens = request.texts.reduce((sum, text) => sum + estimateTokens(text), 0);
  return {
    object: "list",
    data: vectors.map((vector, index) => ({
      object: "embedding",
      index,
      embedding: request.encoding === "base64" ? float32Base64(vector) : vector,
    })),
    model: request.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}
