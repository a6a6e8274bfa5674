// Bench only: the machine's ceiling for the serving benchmark. A Deno.serve
// handler that parses the JSON body and answers an OpenAI-shaped embedding at
// once: no batching, no upstream. Prints "listening on URL" like `main.ts serve`;
// exits on SIGTERM.

const vector = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`),
}, async (request) => {
  const body = await request.json();
  return Response.json({
    object: "list",
    data: [{ object: "embedding", index: 0, embedding: vector }],
    model: body.model,
    usage: { prompt_tokens: 1, total_tokens: 1 },
  });
});
Deno.addSignalListener("SIGTERM", () => void server.shutdown());
