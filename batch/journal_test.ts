import assert from "node:assert/strict";
import { BatchJournalError, Journal, packMembers, unpackMembers } from "./journal.ts";

async function withJournal(text: string, test: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".journal" });
  try {
    await Deno.writeTextFile(path, text);
    await test(path);
  } finally {
    await Deno.remove(path);
  }
}

const RUN = '{"t":"run","runId":"r","model":"m"}\n';

Deno.test("Journal cuts a torn last line off before appending", async () => {
  await withJournal(
    RUN + '{"t":"job","seq":1,"displayName":"embatch-r-1","members":[[0,2,0,0]],"idsHash":"h"}\n' +
      '{"t":"created","seq":1,"na',
    async (path) => {
      {
        await using journal = await Journal.open(path);
        assert.equal(journal.state?.open.get(1)?.name, undefined, "the torn create is not trusted");
        await journal.append({ t: "created", seq: 1, name: "batches/x", at: 5 });
      }
      const lines = (await Deno.readTextFile(path)).trim().split("\n");
      assert.equal(lines.length, 3);
      assert.deepEqual(JSON.parse(lines[2]!), { t: "created", seq: 1, name: "batches/x", at: 5 });
    },
  );
});

Deno.test("Journal replays retries: put back by a done job, taken by a later job", async () => {
  await withJournal(
    RUN +
      '{"t":"job","seq":1,"displayName":"a","members":[[0,4,0,0]],"idsHash":"h"}\n' +
      '{"t":"done","seq":1,"state":"SUCCEEDED","retry":[[1,1,1,0],[3,1,1,0]]}\n' +
      '{"t":"job","seq":2,"displayName":"b","members":[[1,1,1,0],[4,2,0,0]],"idsHash":"h"}\n',
    async (path) => {
      await using journal = await Journal.open(path);
      const state = journal.state!;
      assert.deepEqual([...state.retry.keys()], [3]);
      assert.deepEqual(state.retry.get(3), { ordinal: 3, lineAttempts: 1, jobAttempts: 0 });
      assert.deepEqual([...state.open.keys()], [2]);
      assert.equal(state.nextOrdinal, 6);
      assert.equal(state.nextSeq, 3);
      assert.equal(state.doneJobs, 1);
    },
  );
});

Deno.test("Journal refuses a damaged journal with BatchJournalError", async (t) => {
  await t.step("a line that is not JSON", async () => {
    await withJournal(RUN + "garbage\n" + RUN, async (path) => {
      await assert.rejects(Journal.open(path), BatchJournalError);
    });
  });
  await t.step("no run line", async () => {
    await withJournal('{"t":"file","seq":1,"file":"files/x"}\n', async (path) => {
      await assert.rejects(Journal.open(path), /does not start with a run line/);
    });
  });
});

Deno.test("packMembers and unpackMembers keep attempts per input", () => {
  const members = [
    { ordinal: 7, lineAttempts: 0, jobAttempts: 1 },
    { ordinal: 5, lineAttempts: 0, jobAttempts: 1 },
    { ordinal: 6, lineAttempts: 0, jobAttempts: 1 },
    { ordinal: 8, lineAttempts: 2, jobAttempts: 1 },
  ];
  const runs = packMembers(members);
  assert.deepEqual(runs, [[5, 3, 0, 1], [8, 1, 2, 1]]);
  assert.deepEqual(unpackMembers(runs), [...members].sort((a, b) => a.ordinal - b.ordinal));
  assert.deepEqual(packMembers([]), []);
});
