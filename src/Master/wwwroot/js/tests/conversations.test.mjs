// This browser's list of conversations (localStorage): node --test src/Master/wwwroot/js/tests/
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { ConversationStore, LIST_KEY, CURRENT_KEY, TOKEN_KEY, titleFrom, parseList, formatActivity } from "../conversations.js";

const T0 = 1_718_013_600_000;
const S1 = "3f2b8c1e-6d4a-4b7e-9a15-2c8d0e6f4a91";
const S2 = "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f";
const S3 = "0b7a4c2e-1d3f-4e5a-8b6c-7d8e9f0a1b2c";

/** A storage like the page's (get/set, null removes) over a Map. */
function storage(initial = {}) {
  const map = new Map(Object.entries(initial));
  return {
    map,
    get: (k) => (map.has(k) ? map.get(k) : null),
    set: (k, v) => (v ? map.set(k, v) : map.delete(k)),
  };
}

function store(initial, clock = { now: T0 }) {
  const s = storage(initial);
  return { s, clock, list: new ConversationStore({ storage: s, now: () => clock.now }) };
}

describe("titles", () => {
  test("from the first question: one line, cut at a word with an ellipsis", () => {
    assert.equal(titleFrom("  What is\n Docker   Swarm?  "), "What is Docker Swarm?");
    const long = "How do I configure a Docker Swarm cluster with three managers and five workers behind a load balancer?";
    const title = titleFrom(long);
    assert.ok(title.length <= 60, title);
    assert.ok(title.endsWith("…"));
    assert.ok(long.startsWith(title.slice(0, -1)));
    assert.equal(titleFrom("x".repeat(80)), `${"x".repeat(59)}…`, "no space to cut at: cut where it must");
    assert.equal(titleFrom(null), "");
  });
});

describe("migration from the single-session page", () => {
  test("the session the page kept becomes the list's first entry, once", () => {
    const { s, list } = store({ [CURRENT_KEY]: S1, [TOKEN_KEY]: "tok1" });
    assert.deepEqual(list.migrate(), [{ sessionId: S1, resumeToken: "tok1", title: "", lastActivity: T0 }]);
    assert.deepEqual(JSON.parse(s.get(LIST_KEY)), [{ sessionId: S1, resumeToken: "tok1", title: "", lastActivity: T0 }]);
    assert.equal(s.get(CURRENT_KEY), S1, "the current session stays under its old key");
    list.remove(S1);
    assert.deepEqual(list.migrate(), [], "a list, even an empty one, is not migrated again");
  });

  test("nothing kept: an empty list", () => {
    const { s, list } = store({});
    assert.deepEqual(list.migrate(), []);
    assert.equal(s.get(LIST_KEY), "[]");
  });

  test("a damaged list is read as what can be saved of it", () => {
    assert.deepEqual(parseList("not json"), []);
    assert.deepEqual(parseList('{"a":1}'), []);
    assert.deepEqual(parseList(JSON.stringify([null, { sessionId: S1, title: 7, lastActivity: "x" }, { sessionId: S1 }, { title: "no id" }])),
      [{ sessionId: S1, resumeToken: "", title: "", lastActivity: 0 }]);
  });
});

describe("the list", () => {
  test("newest activity first; a touch moves a conversation to the top", () => {
    const { clock, list } = store({});
    list.upsert(S1, { resumeToken: "t1" });
    clock.now += 1000;
    list.upsert(S2, { resumeToken: "t2" });
    clock.now += 1000;
    list.upsert(S3, { resumeToken: "t3" });
    assert.deepEqual(list.list().map((e) => e.sessionId), [S3, S2, S1]);
    clock.now += 1000;
    list.touch(S1);
    assert.deepEqual(list.list().map((e) => e.sessionId), [S1, S3, S2]);
    list.upsert(S2, { lastActivity: T0 - 99_000 });
    assert.equal(list.get(S2).lastActivity, T0 + 1000, "activity only moves forward");
    assert.equal(list.touch("unknown"), null);
  });

  test("the title comes from the first question and stays; a rename replaces it; an empty rename gives it back", () => {
    const { list } = store({});
    list.upsert(S1, { resumeToken: "t1" });
    assert.equal(list.get(S1).title, "");
    list.upsert(S1, { title: "What is Docker Swarm?" });
    list.upsert(S1, { title: "A later question" });
    assert.equal(list.get(S1).title, "What is Docker Swarm?");
    list.rename(S1, "  Swarm notes  ");
    assert.equal(list.get(S1).title, "Swarm notes");
    list.upsert(S1, { title: "What is Docker Swarm?" });
    assert.equal(list.get(S1).title, "Swarm notes", "a renamed conversation keeps its name");
    list.rename(S1, "   ", "What is Docker Swarm?");
    assert.equal(list.get(S1).title, "What is Docker Swarm?");
    assert.equal(list.rename("unknown", "x"), null);
  });

  test("the resume token is kept and updated; delete removes the entry", () => {
    const { s, list } = store({});
    list.upsert(S1, { resumeToken: "t1" });
    list.upsert(S2, { resumeToken: "t2" });
    list.upsert(S1, { resumeToken: "" });
    assert.equal(list.get(S1).resumeToken, "t1");
    list.upsert(S1, { resumeToken: "t1b" });
    assert.equal(list.get(S1).resumeToken, "t1b");
    assert.equal(list.remove(S1), true);
    assert.equal(list.remove(S1), false);
    assert.deepEqual(list.list().map((e) => e.sessionId), [S2]);
    assert.deepEqual(JSON.parse(s.get(LIST_KEY)).map((e) => e.sessionId), [S2]);
  });

  test("every change reads the list afresh: another tab's entries are kept", () => {
    const { s, list } = store({});
    list.upsert(S1, { resumeToken: "t1" });
    const other = new ConversationStore({ storage: s, now: () => T0 + 5 });
    other.upsert(S2, { resumeToken: "t2", title: "From the other tab" });
    list.rename(S1, "Mine");
    assert.deepEqual(list.list().map((e) => [e.sessionId, e.title]), [[S2, "From the other tab"], [S1, "Mine"]]);
  });
});

describe("last activity as the list shows it", () => {
  const now = new Date(2024, 5, 10, 15, 0).getTime();
  test("recent, today, yesterday, this year, earlier", () => {
    assert.equal(formatActivity(now - 20_000, now), "just now");
    assert.equal(formatActivity(now - 5 * 60_000, now), "5 min ago");
    assert.match(formatActivity(new Date(2024, 5, 10, 9, 5).getTime(), now, "en-GB"), /^09:05$/);
    assert.equal(formatActivity(new Date(2024, 5, 9, 23, 0).getTime(), now), "Yesterday");
    assert.equal(formatActivity(new Date(2024, 1, 3).getTime(), now, "en-GB"), "3 Feb");
    assert.equal(formatActivity(new Date(2023, 1, 3).getTime(), now, "en-GB"), "3 Feb 2023");
    assert.equal(formatActivity(0, now), "");
  });
});
