// Internal: how the corpus run words an API, item or file error for the user.

import { type EmbeddingError, GeminiApiError } from "../errors.ts";

/** An item error that every later call would repeat: a bad key, model or permission. */
export function isFatal(error: EmbeddingError): boolean {
  return error.status === 401 || error.status === 403 || error.status === 404 ||
    error.code === "PERMISSION_DENIED" || error.code === "UNAUTHENTICATED" ||
    (error.status === 400 && /api key/i.test(error.message));
}

export function describeItemError(error: EmbeddingError): string {
  const status = error.status === undefined ? "" : `${error.status} `;
  return `the API answered ${status}${error.code}: ${error.message}`;
}

export function describeError(error: unknown): string {
  if (error instanceof GeminiApiError) {
    return `the API answered ${error.status} ${error.code}: ${error.message}`;
  }
  if (!(error instanceof Error)) return String(error);
  // fetch's "fetch failed" says why only in its cause (a DNS or connection error).
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`;
}

export function describeFileError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable && /requires all access/i.test(error.message)) {
    return "not permitted: Deno opens a device file only with --allow-all";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `not permitted (${
      error.message.replace(/, run again with.*$/, "")
    }): grant it with --allow-read/--allow-write`;
  }
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  return error instanceof Error ? error.message : String(error);
}
