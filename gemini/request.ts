/**
 * What one input becomes on the wire: one `Content` (its own vector, never
 * merged with another input's) plus the request fields its model takes.
 *
 * @module
 */

import type { EmbedInput } from "../embedder.ts";
import { estimateTokens } from "../resilience/tokens.ts";
import { applyTask, type ModelProfile } from "./models.ts";
import { GEMINI_TASK_TYPES, type GeminiTaskType } from "./task_types.ts";

/** The request fields Gemini applies per request: `taskType` and `title` (001 only). */
export interface RequestFields {
  /** The `taskType` field. */
  taskType?: GeminiTaskType;
  /** The `title` field. */
  title?: string;
}

/** One input planned for sending: its text part, its fields, its media. */
export interface PlannedRequest {
  /** The text part, with the task instruction where the model wants one; `""` for none. */
  text: string;
  /** The request fields (grouping key: one SDK call carries one set). */
  fields: RequestFields;
  /** The media, in order, after the text. */
  media: NonNullable<Exclude<EmbedInput, string>["media"]>;
}

/**
 * Plans how `input` is sent to `profile`'s model.
 *
 * A text (or a content without media) goes through {@linkcode applyTask}
 * with its own task type, else `defaultTaskType`. A content with media keeps
 * its text as given: Google says the text of a multimodal input should carry
 * no task instruction; for models that take fields, the fields still apply.
 *
 * @param profile The model's profile.
 * @param input The input.
 * @param defaultTaskType The task type for inputs that name none.
 * @returns The text part, fields and media.
 * @throws {TypeError} If the input's task type is not one of Gemini's, or it
 * carries media the model does not take.
 *
 * @example A query for gemini-embedding-2
 * ```ts
 * import { planRequest } from "./request.ts";
 * import { modelProfile } from "./models.ts";
 * import assert from "node:assert/strict";
 *
 * const plan = planRequest(modelProfile("gemini-embedding-2"), "where is it?", "RETRIEVAL_QUERY");
 * assert.equal(plan.text, "task: search result | query: where is it?");
 * assert.deepEqual(plan.fields, {});
 * ```
 */
export function planRequest(
  profile: ModelProfile,
  input: EmbedInput,
  defaultTaskType: GeminiTaskType | undefined,
): PlannedRequest {
  if (typeof input === "string") {
    // A plain text with no task type is sent as it is, with no field.
    if (defaultTaskType === undefined) return { text: input, fields: {}, media: [] };
    const { text, ...fields } = applyTask(profile, input, defaultTaskType);
    return { text, fields, media: [] };
  }
  const taskType = input.taskType === undefined ? defaultTaskType : checkTaskType(input.taskType);
  const media = input.media ?? [];
  const { text, ...fields } = applyTask(profile, input.text ?? "", taskType, input.title);
  if (media.length === 0) return { text, fields, media };
  for (const file of media) {
    const kind = Object.entries(profile.media).find(([, limit]) =>
      limit.mimeTypes.includes(file.mimeType)
    );
    if (kind === undefined) {
      throw new TypeError(
        `Cannot embed ${file.name}: ${profile.model} does not take ${file.mimeType}`,
      );
    }
  }
  // With media the text travels as given: fields only, no instruction.
  return profile.taskIntent === "field"
    ? { text: input.text ?? "", fields, media }
    : { text: input.text ?? "", fields: {}, media };
}

/**
 * The estimated tokens of a planned request: its text's plus its media's.
 *
 * @param plan The planned request.
 * @returns The estimate.
 *
 * @example Usage
 * ```ts
 * import { planRequest, plannedTokens } from "./request.ts";
 * import { modelProfile } from "./models.ts";
 * import { estimateTokens } from "../resilience/tokens.ts";
 * import assert from "node:assert/strict";
 *
 * const plan = planRequest(modelProfile("gemini-embedding-2"), "hello", "CLUSTERING");
 * assert.equal(plannedTokens(plan), estimateTokens("task: clustering | query: hello"));
 * ```
 */
export function plannedTokens(plan: PlannedRequest): number {
  let tokens = estimateTokens(plan.text);
  for (const file of plan.media) tokens += file.tokens;
  return tokens;
}

function checkTaskType(taskType: string): GeminiTaskType {
  if (!(GEMINI_TASK_TYPES as readonly string[]).includes(taskType)) {
    throw new TypeError(
      `Cannot embed content: taskType must be one of ${
        GEMINI_TASK_TYPES.join(", ")
      }, received "${taskType}"`,
    );
  }
  return taskType as GeminiTaskType;
}
