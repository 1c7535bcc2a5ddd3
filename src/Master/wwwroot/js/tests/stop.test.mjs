// Stop (CancelTask, TaskCancelled): node --test src/Master/wwwroot/js/tests/
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Conversation, Phase, isTerminal } from "../conversation.js";
import { statusText, formatMeta } from "../render.js";

const T0 = 1_718_013_600_000;

function conversation() {
  let n = 0;
  return new Conversation({ newId: () => `00000000-0000-4000-8000-00000000000${++n}`, now: () => T0 });
}

/** A question of this page that the server took and a worker is writing: "Docker Swarm is" so far. */
function streaming(c, query = "What is Docker Swarm?") {
  const turn = c.ask(query);
  const token = c.submitStarted(turn.taskId);
  c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "assigned", workerId: "w1", attempt: 1 });
  c.apply("AiResponseChunk", { taskId: turn.taskId, attempt: 1, offset: 0, text: "Docker Swarm is" });
  return turn;
}

describe("what Stop stops", () => {
  test("the newest open question; none once every question is over", () => {
    const c = conversation();
    const first = streaming(c, "First");
    const second = streaming(c, "Second");
    assert.equal(c.stopTarget(), second);
    c.apply("AiResponse", { taskId: second.taskId, response: "Done", workerId: "w1", provider: "simulated", processingTimeMs: 1 });
    assert.equal(c.stopTarget(), first);
    c.apply("TaskFailed", { taskId: first.taskId, error: "no", retryable: true });
    assert.equal(c.stopTarget(), null);
  });

  test("a refused question is not open: nothing to stop", () => {
    const c = conversation();
    const turn = c.ask("Too fast");
    c.submitFailed(turn.taskId, c.submitStarted(turn.taskId), { refused: true, message: "Too fast." });
    assert.equal(c.stopTarget(), null);
    assert.equal(c.stop(turn.taskId), null);
  });

  test("a question that never left the page is taken back: its text returns, no call is made", () => {
    const c = conversation();
    const turn = c.ask("Typed while offline");
    const result = c.stop(turn.taskId);
    assert.deepEqual(result, { turn, withdrawn: "Typed while offline" });
    assert.equal(c.size, 0);
    assert.deepEqual(c.toSubmit(), []);
    assert.deepEqual(c.toCancel(), []);
  });

  test("a question whose call is in flight is stopped once the server has it", () => {
    const c = conversation();
    const turn = c.ask("In flight");
    const token = c.submitStarted(turn.taskId);
    assert.equal(c.stop(turn.taskId).withdrawn, null);
    assert.equal(statusText(turn, true), "Stopping…");
    assert.deepEqual(c.toCancel(), [], "the server does not have it yet");
    c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "queued", position: 1 });
    assert.deepEqual(c.toCancel(), [turn]);
  });
});

describe("the CancelTask call and TaskCancelled", () => {
  test("TaskCancelled ends the question with the server's text, marked Stopped", () => {
    const c = conversation();
    const turn = streaming(c);
    c.stop(turn.taskId);
    assert.deepEqual(c.toCancel(), [turn]);
    c.cancelStarted(turn.taskId);
    assert.deepEqual(c.toCancel(), [], "one call at a time");
    assert.equal(c.apply("TaskCancelled", { taskId: turn.taskId, text: "Docker Swarm is a" }), turn);
    assert.equal(turn.phase, Phase.Stopped);
    assert.equal(turn.text, "Docker Swarm is a");
    assert.equal(isTerminal(turn), true);
    assert.equal(statusText(turn, true), "Stopped");
    assert.equal(c.stopTarget(), null);
    // The call's reply comes after: nothing changes.
    c.cancelSucceeded(turn.taskId, { taskId: turn.taskId, status: "cancelled" });
    assert.equal(turn.text, "Docker Swarm is a");
  });

  test("a stopped question is final: later events of it change nothing", () => {
    const c = conversation();
    const turn = streaming(c);
    c.apply("TaskCancelled", { taskId: turn.taskId, text: "Docker Swarm is" });
    assert.equal(c.apply("AiResponseChunk", { taskId: turn.taskId, attempt: 1, offset: 15, text: " more" }), null);
    assert.equal(c.apply("AiResponse", { taskId: turn.taskId, response: "Whole answer", workerId: "w1" }), null);
    assert.equal(c.apply("TaskFailed", { taskId: turn.taskId, error: "late", retryable: true }), null);
    assert.equal(c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "w2", attempt: 2 }), null);
    assert.equal(c.apply("TaskCancelled", { taskId: turn.taskId, text: "other" }), null);
    c.sessionStarted({ sessionId: "s1", resumed: false, history: [] });
    assert.equal(turn.phase, Phase.Stopped);
    assert.equal(turn.text, "Docker Swarm is");
  });

  test("a reply 'cancelled' before the event stops it at once with the page's text; the event then brings the server's", () => {
    const c = conversation();
    const turn = streaming(c);
    c.stop(turn.taskId);
    c.cancelStarted(turn.taskId);
    c.cancelSucceeded(turn.taskId, { taskId: turn.taskId, status: "cancelled" });
    assert.equal(turn.phase, Phase.Stopped);
    assert.equal(turn.text, "Docker Swarm is");
    c.apply("TaskCancelled", { taskId: turn.taskId, text: "Docker Swarm is a tool" });
    assert.equal(turn.text, "Docker Swarm is a tool");
    assert.equal(c.apply("TaskCancelled", { taskId: turn.taskId, text: "again" }), null);
    assert.equal(turn.text, "Docker Swarm is a tool");
  });

  test("'answered' or 'failed' as the reply: the question had ended, and its outcome decides", () => {
    const c = conversation();
    const turn = streaming(c);
    c.stop(turn.taskId);
    c.cancelStarted(turn.taskId);
    c.cancelSucceeded(turn.taskId, { taskId: turn.taskId, status: "answered" });
    assert.equal(turn.phase, Phase.Streaming);
    assert.equal(statusText(turn, true), "w1 is writing…", "no longer stopping");
    assert.deepEqual(c.toCancel(), []);
    c.apply("AiResponse", { taskId: turn.taskId, response: "Docker Swarm is a scheduler.", workerId: "w1", provider: "simulated", processingTimeMs: 10 });
    assert.equal(turn.phase, Phase.Answered);
  });

  test("a refused call leaves the question going; a call lost with the connection is made again", () => {
    const c = conversation();
    const turn = streaming(c);
    c.stop(turn.taskId);
    c.cancelStarted(turn.taskId);
    c.cancelFailed(turn.taskId, { refused: false });
    assert.deepEqual(c.toCancel(), [turn], "made again once the connection is back");
    c.cancelStarted(turn.taskId);
    c.cancelFailed(turn.taskId, { refused: true });
    assert.deepEqual(c.toCancel(), []);
    assert.equal(turn.phase, Phase.Streaming);
    assert.equal(statusText(turn, true), "w1 is writing…");
  });

  test("another tab's Stop reaches this page as TaskCancelled too", () => {
    const c = conversation();
    c.apply("TaskAccepted", { taskId: "a0000000-0000-4000-8000-000000000001", query: "Other tab", timestamp: T0 - 1 });
    const turn = c.apply("TaskCancelled", { taskId: "a0000000-0000-4000-8000-000000000001", text: "" });
    assert.equal(turn.phase, Phase.Stopped);
    assert.equal(turn.text, "");
  });
});

describe("a stopped question in the history (a reload)", () => {
  test("comes back stopped with its text, and its meta", () => {
    const c = conversation();
    c.sessionStarted({ sessionId: "s1", resumed: true, history: [
      { taskId: "a0000000-0000-4000-8000-000000000001", query: "Stopped one", response: "The text so", error: null, workerId: "w1",
        processingTimeMs: 900, provider: "gemini:gemini-2.5-flash", timestamp: T0 - 1000, cancelled: true, promptTokens: 12, outputTokens: 3 },
    ] });
    const [turn] = c.turns;
    assert.equal(turn.phase, Phase.Stopped);
    assert.equal(turn.text, "The text so");
    assert.equal(formatMeta(turn), "w1 · gemini:gemini-2.5-flash · 0.9 s · 12 + 3 tokens");
    assert.equal(c.stopTarget(), null);
  });

  test("confirms a question this page stopped on the call's reply", () => {
    const c = conversation();
    const turn = streaming(c);
    c.stop(turn.taskId);
    c.cancelSucceeded(turn.taskId, { taskId: turn.taskId, status: "cancelled" });
    c.sessionStarted({ sessionId: "s1", resumed: true, history: [
      { taskId: turn.taskId, query: turn.query, response: "Docker Swarm is a", cancelled: true, timestamp: T0 },
    ] });
    assert.equal(turn.text, "Docker Swarm is a");
    assert.equal(turn.stopConfirmed, true);
  });
});
