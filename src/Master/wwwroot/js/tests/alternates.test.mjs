// Regenerate, edit and the alternates' pager: node --test src/Master/wwwroot/js/tests/
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Conversation, Phase, requestOf } from "../conversation.js";
import { chainsOf, Selection, pagerOf, lineOf, actionsOf, replacementOf } from "../alternates.js";

const T0 = 1_718_013_600_000;

function conversation() {
  let n = 0;
  return new Conversation({ newId: () => `00000000-0000-4000-8000-0000000000${String(++n).padStart(2, "0")}`, now: () => T0 });
}

/** Asks, the server takes it, and it is answered. */
function answered(c, query, options = {}) {
  const turn = c.ask(query, options);
  const token = c.submitStarted(turn.taskId);
  c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "assigned", workerId: "w1", attempt: 1 });
  c.apply("AiResponse", { taskId: turn.taskId, response: `Answer to ${query}`, workerId: "w1", provider: "simulated", processingTimeMs: 5 });
  return turn;
}

const ids = (turns) => turns.map((t) => t.query);

describe("chains of alternates", () => {
  test("a turn that replaces one joins its chain, in its place; chains of replacements are one chain", () => {
    const c = conversation();
    const a = answered(c, "A");
    const b = answered(c, "B");
    const b2 = answered(c, "B again", { replaces: b.taskId });
    const b3 = answered(c, "B once more", { replaces: b2.taskId });
    const chains = chainsOf(c.turns);
    assert.equal(chains.length, 2);
    assert.deepEqual(ids(chains[0].turns), ["A"]);
    assert.equal(chains[1].rootId, b.taskId);
    assert.deepEqual(chains[1].turns, [b, b2, b3]);
    assert.equal(a.replaces, null);
  });

  test("a replacement of a turn the page does not know starts its own chain; a loop does not hang", () => {
    const c = conversation();
    c.sessionStarted({ sessionId: "s", resumed: true, history: [
      { taskId: "a0000000-0000-4000-8000-000000000001", query: "Orphan", response: "x", timestamp: T0 - 10, replaces: "a0000000-0000-4000-8000-0000000000ff" },
      { taskId: "a0000000-0000-4000-8000-000000000002", query: "Loop 1", response: "x", timestamp: T0 - 9, replaces: "a0000000-0000-4000-8000-000000000003" },
      { taskId: "a0000000-0000-4000-8000-000000000003", query: "Loop 2", response: "x", timestamp: T0 - 8, replaces: "a0000000-0000-4000-8000-000000000002" },
    ] });
    const chains = chainsOf(c.turns);
    assert.deepEqual(chains.map((ch) => ids(ch.turns)), [["Orphan"], ["Loop 1", "Loop 2"]]);
  });

  test("the history and another tab's TaskAccepted carry replaces", () => {
    const c = conversation();
    c.sessionStarted({ sessionId: "s", resumed: true, history: [
      { taskId: "a0000000-0000-4000-8000-000000000001", query: "Q", response: "first", timestamp: T0 - 10 },
      { taskId: "a0000000-0000-4000-8000-000000000002", query: "Q", response: "second", timestamp: T0 - 5, replaces: "a0000000-0000-4000-8000-000000000001" },
    ] });
    c.apply("TaskAccepted", { taskId: "a0000000-0000-4000-8000-000000000003", query: "Q edited", timestamp: T0, replaces: "a0000000-0000-4000-8000-000000000002" });
    const [chain] = chainsOf(c.turns);
    assert.equal(chain.turns.length, 3);
    const line = lineOf(c.turns, new Selection());
    assert.equal(line.chains[0].pager.label, "3 of 3");
  });
});

describe("the pager and which alternate is shown", () => {
  test("'2 of 2' after a regenerate; back to '1 of 2'; forward again", () => {
    const c = conversation();
    const a = answered(c, "Q");
    const b = answered(c, "Q", { replaces: a.taskId });
    const selection = new Selection();
    let [chain] = lineOf(c.turns, selection).chains;
    assert.equal(chain.shown, b, "the new turn takes the old one's place");
    assert.deepEqual(chain.pager, { index: 2, count: 2, label: "2 of 2", prev: a.taskId, next: null });
    assert.equal(selection.step(chain, -1), a);
    [chain] = lineOf(c.turns, selection).chains;
    assert.equal(chain.shown, a);
    assert.deepEqual(chain.pager, { index: 1, count: 2, label: "1 of 2", prev: null, next: b.taskId });
    assert.equal(selection.step(chain, -1), a, "the first stays the first");
    assert.equal(selection.step(chain, +1), b);
  });

  test("a chain of three gives '1 of 3'; a new alternate is shown even when the reader had paged back", () => {
    const c = conversation();
    const a = answered(c, "Q");
    const b = answered(c, "Q", { replaces: a.taskId });
    const selection = new Selection();
    selection.choose(chainsOf(c.turns)[0], a.taskId);
    const d = answered(c, "Q edited", { replaces: b.taskId });
    const [chain] = lineOf(c.turns, selection).chains;
    assert.equal(chain.shown, d);
    assert.equal(chain.pager.label, "3 of 3");
    selection.choose(chain, a.taskId);
    assert.equal(pagerOf(chain, selection.shownOf(chain)).label, "1 of 3");
  });

  test("a turn without alternates has no pager", () => {
    const c = conversation();
    answered(c, "Alone");
    assert.equal(lineOf(c.turns, new Selection()).chains[0].pager, null);
  });
});

describe("regenerate and edit", () => {
  test("only the last turn can be replaced, once it is over; the buttons say so", () => {
    const c = conversation();
    const first = answered(c, "First");
    const last = c.ask("Last");
    c.submitSucceeded(last.taskId, c.submitStarted(last.taskId), { taskId: last.taskId, status: "queued", position: 1 });
    let line = lineOf(c.turns, new Selection());
    assert.equal(line.target, null, "the last one is still open");
    assert.deepEqual(actionsOf(first, line.chains[0], line), []);
    assert.deepEqual(actionsOf(last, line.chains[1], line), []);

    c.apply("AiResponse", { taskId: last.taskId, response: "Done", workerId: "w1", provider: "simulated", processingTimeMs: 5 });
    line = lineOf(c.turns, new Selection());
    assert.equal(line.target, last);
    assert.deepEqual(actionsOf(last, line.chains[1], line), ["regenerate", "revise"]);
    assert.deepEqual(actionsOf(first, line.chains[0], line), []);
    assert.equal(replacementOf(line, first.taskId), null, "not the last turn");
  });

  test("regenerate sends the same question with replaces; edit sends the new text with replaces", () => {
    const c = conversation();
    const a = answered(c, "What is Docker?", { model: "gemini-2.5-flash" });
    let line = lineOf(c.turns, new Selection());
    const again = replacementOf(line, a.taskId);
    assert.deepEqual(again, { query: "What is Docker?", replaces: a.taskId });
    const b = c.ask(again.query, { replaces: again.replaces, model: "gemini-2.5-flash" });
    assert.deepEqual(requestOf(b, " key "), { query: "What is Docker?", apiKey: "key", taskId: b.taskId, replaces: a.taskId, model: "gemini-2.5-flash" });

    c.submitSucceeded(b.taskId, c.submitStarted(b.taskId), { taskId: b.taskId, status: "assigned", workerId: "w1", attempt: 1 });
    c.apply("AiResponse", { taskId: b.taskId, response: "Again", workerId: "w1", provider: "simulated", processingTimeMs: 5 });
    line = lineOf(c.turns, new Selection());
    assert.equal(line.target, b, "what is replaced now is the newest alternate");
    assert.equal(replacementOf(line, b.taskId, "   "), null, "an empty edit sends nothing");
    const edited = replacementOf(line, b.taskId, "  What is Docker Swarm?  ");
    assert.deepEqual(edited, { query: "What is Docker Swarm?", replaces: b.taskId });
    // An earlier alternate shown: its text, in the last one's place.
    assert.deepEqual(replacementOf(line, a.taskId), { query: "What is Docker?", replaces: b.taskId });
  });

  test("a question of its own has no replaces and no model unless chosen", () => {
    const c = conversation();
    const turn = c.ask("Plain");
    assert.deepEqual(requestOf(turn, ""), { query: "Plain", apiKey: "", taskId: turn.taskId });
  });

  test("a failed or stopped last turn can be regenerated; an earlier failed one is asked again at the end", () => {
    const c = conversation();
    const failedEarly = c.ask("Failed early");
    c.submitSucceeded(failedEarly.taskId, c.submitStarted(failedEarly.taskId), { taskId: failedEarly.taskId, status: "queued", position: 1 });
    c.apply("TaskFailed", { taskId: failedEarly.taskId, error: "Overloaded", retryable: true });
    const last = c.ask("Stopped last");
    c.submitSucceeded(last.taskId, c.submitStarted(last.taskId), { taskId: last.taskId, status: "assigned", workerId: "w1", attempt: 1 });
    c.apply("TaskCancelled", { taskId: last.taskId, text: "Partial" });
    const line = lineOf(c.turns, new Selection());
    assert.deepEqual(actionsOf(failedEarly, line.chains[0], line), ["ask-again"]);
    assert.deepEqual(actionsOf(last, line.chains[1], line), ["regenerate", "revise"]);
  });

  test("a refused replacement leaves the turn it replaced as the last one; a refused question after it too", () => {
    const c = conversation();
    const a = answered(c, "Q");
    const b = c.ask("Q edited", { replaces: a.taskId });
    c.submitFailed(b.taskId, c.submitStarted(b.taskId), { refused: true, message: "Only the last question of the conversation can be asked again or edited." });
    let line = lineOf(c.turns, new Selection());
    assert.equal(line.chains[0].shown, b);
    assert.deepEqual(actionsOf(b, line.chains[0], line), ["send-again", "edit"]);
    assert.equal(line.target, a);
    assert.deepEqual(actionsOf(a, line.chains[0], line), ["regenerate", "revise"]);

    const refused = c.ask("Too long");
    c.submitFailed(refused.taskId, c.submitStarted(refused.taskId), { refused: true, message: "Too long." });
    line = lineOf(c.turns, new Selection());
    assert.equal(line.target, a, "a refused question is not on the server: the one before it is still the last");
  });

  test("a question being sent blocks replacing until it is confirmed", () => {
    const c = conversation();
    answered(c, "Q");
    c.ask("Being sent");
    const line = lineOf(c.turns, new Selection());
    assert.equal(line.target, null);
    assert.equal(line.last, null);
  });

  test("a question lost with a session the server no longer has cannot be replaced", () => {
    const c = conversation();
    const turn = c.ask("Lost");
    c.submitSucceeded(turn.taskId, c.submitStarted(turn.taskId), { taskId: turn.taskId, status: "queued", position: 1 });
    c.sessionStarted({ sessionId: "s2", resumed: false, history: [] });
    assert.equal(turn.phase, Phase.Failed);
    const line = lineOf(c.turns, new Selection());
    assert.equal(line.target, null);
    assert.deepEqual(actionsOf(turn, line.chains[0], line), ["ask-again"]);
  });
});
