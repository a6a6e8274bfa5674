// Bench only: the upstream of the serving benchmark. The Gemini simulator with
// a realistic latency, in a process of its own (as Gemini is a machine of its
// own: in the load generator's process its answers would wait behind the
// load, and the load behind them), timing each call around the simulator's
// handler and noting which texts it carried. `GET /__calls` answers
// `{ calls, totalMs, callMs: [[text, ms, call number], ...] }`. Prints "listening on URL" first;
// exits on SIGTERM.

import { createSimulatorHandler, GEMINI_LATENCY } from "../simulator/mod.ts";

const handler = createSimulatorHandler({ latency: GEMINI_LATENCY, seed: 7 });
const callMs: [string, number, number][] = [];
let calls = 0;
let totalMs = 0;
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`),
}, async (request) => {
  if (new URL(request.url).pathname === "/__calls") {
    return Response.json({ calls, totalMs, callMs });
  }
  const started = performance.now();
  const body = await request.clone().json().catch(() => ({ requests: [] }));
  const call = calls++;
  const response = await handler(request);
  const ms = performance.now() - started;
  totalMs += ms;
  for (const r of body.requests ?? []) callMs.push([r.content?.parts?.[0]?.text, ms, call]);
  return response;
});
Deno.addSignalListener("SIGTERM", () => void server.shutdown());
