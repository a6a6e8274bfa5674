// Internal (bench only): a minimal HTTP/1.1 keep-alive load generator over raw
// TCP. `fetch` costs more CPU per request than the server under test does, so
// on a 2-core machine a fetch-based closed loop measures the client; this
// writes prebuilt request bytes and reads each response by its Content-Length.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds one POST request with a JSON body. */
export function postBytes(host: string, path: string, body: string): Uint8Array {
  const bytes = encoder.encode(body);
  const head = encoder.encode(
    `POST ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\n` +
      `content-length: ${bytes.length}\r\n\r\n`,
  );
  const request = new Uint8Array(head.length + bytes.length);
  request.set(head);
  request.set(bytes, head.length);
  return request;
}

function indexOfHeadEnd(buffer: Uint8Array, length: number): number {
  for (let i = 3; i < length; i++) {
    if (buffer[i] === 10 && buffer[i - 1] === 13 && buffer[i - 2] === 10 && buffer[i - 3] === 13) {
      return i + 1;
    }
  }
  return -1;
}

/**
 * Sends requests back to back on `connections` keep-alive connections until
 * `durationMs` has passed; `request(i)` gives the bytes of request `i` of a
 * connection. Resolves with the number of 200 answers and of other answers.
 */
export async function closedLoop(
  port: number,
  connections: number,
  durationMs: number,
  request: (connection: number, i: number) => Uint8Array,
): Promise<{ ok: number; failed: number; seconds: number }> {
  let ok = 0;
  let failed = 0;
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(Array.from({ length: connections }, async (_, c) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const buffer = new Uint8Array(1 << 16);
    try {
      for (let i = 0; performance.now() < end; i++) {
        await conn.write(request(c, i));
        let length = 0;
        let headEnd = -1;
        let total = Infinity;
        while (length < total) {
          const n = await conn.read(buffer.subarray(length));
          if (n === null) throw new Error("Connection closed mid-response");
          length += n;
          if (headEnd < 0) {
            headEnd = indexOfHeadEnd(buffer, length);
            if (headEnd < 0) continue;
            const head = decoder.decode(buffer.subarray(0, headEnd));
            const match = /content-length: (\d+)/i.exec(head);
            if (match === null) throw new Error("Response without Content-Length");
            total = headEnd + Number(match[1]);
            if (head.startsWith("HTTP/1.1 200")) ok++;
            else failed++;
          }
        }
      }
    } finally {
      conn.close();
    }
  }));
  return { ok, failed, seconds: (performance.now() - start) / 1000 };
}
