import { closedLoop, postBytes } from "../_raw_http.ts";
async function start(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    env,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) text += (await reader.read()).value;
  reader.releaseLock();
  return { child, url: /listening on (\S+)/.exec(text)![1]! };
}
const cpu = async (pid: number) => {
  const f = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(" ");
  return (Number(f[13]) + Number(f[14])) / 100;
};
const sim = await start(["../../simulator/cli.ts", "--port", "0"]);
const srv = await start([
  "../../main.ts",
  "serve",
  "--port",
  "0",
  "--base-url",
  sim.url,
  "--timeout",
  "50ms",
  "--concurrency",
  "64",
  "--client-concurrency",
  "100000",
  "--max-queue",
  "100000",
], { GEMINI_API_KEY: "k" });
const port = Number(new URL(srv.url).port);
const c0 = await cpu(srv.child.pid), s0 = await cpu(sim.child.pid), me0 = await cpu(Deno.pid);
const r = await closedLoop(
  port,
  Number(Deno.args[0] ?? 1000),
  3000,
  (c, i) =>
    postBytes(
      "x",
      "/v1/embeddings",
      JSON.stringify({ model: "gemini-embedding-001", input: `t ${c} ${i}`, dimensions: 8 }),
    ),
);
const c1 = await cpu(srv.child.pid), s1 = await cpu(sim.child.pid), me1 = await cpu(Deno.pid);
console.log(
  `${(r.ok / r.seconds).toFixed(0)} req/s; CPU s over ${r.seconds.toFixed(1)} s: server ${
    (c1 - c0).toFixed(2)
  }, simulator ${(s1 - s0).toFixed(2)}, client ${(me1 - me0).toFixed(2)}`,
);
const m = await (await fetch(`${srv.url}/metrics`)).text();
console.log(
  m.split("\n").filter((l) => /batch_texts_(sum|count)|_seconds_(sum|count)/.test(l)).join("\n"),
);
srv.child.kill("SIGTERM");
sim.child.kill("SIGTERM");
await srv.child.status;
await sim.child.status;
