// Internal (bench only): a minimal HTTP/1.1 keep-alive load generator over raw
// TCP. `fetch` costs more CPU per request than the server under test does, so
// on a 2-core machine a fetch-based closed loop measures the client; this
// writes prebuilt request bytes and reads each response by its Content-Length.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds one POST request with a JSON body (and any extra header lines, `name: value`). */
export function postBytes(
  host: string,
  path: string,
  body: string,
  headers: readonly string[] = [],
): Uint8Array {
  const bytes = encoder.encode(body);
  const extra = headers.map((line) => `${line}\r\n`).join("");
  const head = encoder.encode(
    `POST ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\n${extra}` +
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

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** Reads one response (head and Content-Length body) into `buffer`; resolves with its status. */
async function readResponse(conn: Deno.Conn, buffer: Uint8Array): Promise<number> {
  let length = 0;
  let headEnd = -1;
  let total = Infinity;
  let status = 0;
  while (length < total) {
    if (length === buffer.length) throw new Error("Response larger than the read buffer");
    const n = await conn.read(buffer.subarray(length));
    if (n === null) throw new Error("Connection closed mid-response");
    length += n;
    if (headEnd >= 0) continue;
    headEnd = indexOfHeadEnd(buffer, length);
    if (headEnd < 0) continue;
    const head = decoder.decode(buffer.subarray(0, headEnd));
    const match = /content-length: (\d+)/i.exec(head);
    if (match === null) throw new Error("Response without Content-Length");
    total = headEnd + Number(match[1]);
    status = Number(head.slice(9, 12));
  }
  return status;
}

/**
 * Keep-alive connections to one port, as many as there are requests in
 * flight: a request takes an idle connection (or opens one), writes its
 * bytes, reads its response and puts the connection back.
 */
export class ConnectionPool {
  readonly #port: number;
  readonly #idle: { conn: Deno.Conn; buffer: Uint8Array }[] = [];
  readonly #all: Deno.Conn[] = [];

  constructor(port: number) {
    this.#port = port;
  }

  /** Sends one request; resolves with the response's status. */
  async request(bytes: Uint8Array): Promise<number> {
    let entry = this.#idle.pop();
    if (entry === undefined) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.#port });
      this.#all.push(conn);
      entry = { conn, buffer: new Uint8Array(1 << 16) };
    }
    await writeAll(entry.conn, bytes);
    const status = await readResponse(entry.conn, entry.buffer);
    this.#idle.push(entry);
    return status;
  }

  /** Closes every connection. */
  close(): void {
    for (const conn of this.#all) conn.close();
    this.#all.length = 0;
    this.#idle.length = 0;
  }
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
        await writeAll(conn, request(c, i));
        if (await readResponse(conn, buffer) === 200) ok++;
        else failed++;
      }
    } finally {
      conn.close();
    }
  }));
  return { ok, failed, seconds: (performance.now() - start) / 1000 };
}
