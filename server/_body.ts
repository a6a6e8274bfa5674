// Internal: reads a JSON request body under a size limit (413 past it), from
// the declared Content-Length when there is one and by counting bytes otherwise.

import { HttpError } from "./_http_error.ts";

/** Reads and parses `request`'s JSON body, at most `maxBytes` bytes. */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge(declared, maxBytes);
  const body = request.body;
  if (body === null) throw new HttpError("invalid", "Invalid request: the body is empty");
  // A declared length within the limit is read in one go (the common, fast
  // case); otherwise the bytes are counted as they arrive.
  let text: string;
  if (declared <= maxBytes) {
    text = await request.text();
  } else {
    try {
      text = decoder.decode(await readCounted(body, maxBytes));
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError("invalid", "Invalid request: the body is not valid UTF-8");
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError("invalid", `Invalid JSON payload received: ${(error as Error).message}`);
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });

async function readCounted(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array> {
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
  return chunks.length === 1 ? chunks[0]! : concat(chunks, size);
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
