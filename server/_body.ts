// Internal: reads a JSON request body under a size limit (413 past it), from
// the declared Content-Length when there is one and by counting bytes otherwise.

import { HttpError } from "./_http_error.ts";

/** Reads and parses `request`'s JSON body, at most `maxBytes` bytes. */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge(declared, maxBytes);
  const body = request.body;
  if (body === null) throw new HttpError("invalid", "Invalid request: the body is empty");
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge(size, maxBytes);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = chunks.length === 1 ? chunks[0]! : concat(chunks, size);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError("invalid", "Invalid request: the body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError("invalid", `Invalid JSON payload received: ${(error as Error).message}`);
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function tooLarge(size: number, maxBytes: number): HttpError {
  return new HttpError(
    "too_large",
    `Request body too large: the limit is ${maxBytes} bytes, received ${size} or more`,
  );
}
