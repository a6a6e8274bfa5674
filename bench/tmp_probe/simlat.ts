import { geminiUpstream } from "../../server/mod.ts";
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "../../simulator/cli.ts", "--port", "0"],
  stdout: "piped",
  stderr: "null",
}).spawn();
const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let text = "";
while (!text.includes("\n")) text += (await reader.read()).value;
const url = /listening on (\S+)/.exec(text)![1]!;
const e = geminiUpstream({ apiKey: "k", baseUrl: url })({
  model: "gemini-embedding-001",
  dimensions: 8,
});
const texts = Array.from({ length: 100 }, (_, i) => `text ${i}`);
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) await e.embed(texts);
  console.log("sequential ms/call", ((performance.now() - t0) / 20).toFixed(1));
  const t1 = performance.now();
  await Promise.all(Array.from({ length: 10 }, () => e.embed(texts)));
  console.log("10 parallel total ms", (performance.now() - t1).toFixed(1));
}
child.kill("SIGTERM");
