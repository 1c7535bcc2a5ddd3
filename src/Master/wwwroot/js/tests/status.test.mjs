// What a turn's status line says, from its state (render.js's pure part): node --test src/Master/wwwroot/js/tests/
import { test } from "node:test";
import assert from "node:assert/strict";
import { Conversation } from "../conversation.js";
import { statusText, formatMeta } from "../render.js";

function turnAsked() {
  const c = new Conversation({ newId: () => "00000000-0000-4000-8000-000000000001" });
  const turn = c.ask("Hello?");
  return { c, turn, token: c.submitStarted(turn.taskId) };
}

test("a question being sent, or waiting for the connection", () => {
  const { turn } = turnAsked();
  assert.equal(statusText(turn, true), "Sending…");
  assert.equal(statusText(turn, false), "Not sent yet — it is sent once the page is connected…");
});

test("a question whose call was lost says that it is sent again", () => {
  const { c, turn, token } = turnAsked();
  c.submitFailed(turn.taskId, token, { refused: false, message: "connection closed" });
  assert.match(statusText(turn, false), /sent again once the page reconnects/);
  c.submitStarted(turn.taskId);
  assert.equal(statusText(turn, true), "Sending again…");
});

test("queue, worker, writing, refusal and failure", () => {
  const { c, turn, token } = turnAsked();
  c.apply("TaskAccepted", { taskId: turn.taskId, query: "Hello?", timestamp: 1 });
  assert.equal(statusText(turn, true), "Sent — waiting for a worker…");
  c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "queued", position: 2 });
  assert.equal(statusText(turn, true), "Queued — position 2");
  c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "python-worker-7", attempt: 1 });
  assert.equal(statusText(turn, true), "python-worker-7 is working on it…");
  c.apply("AiResponseChunk", { taskId: turn.taskId, attempt: 1, offset: 0, text: "Hi" });
  assert.equal(statusText(turn, true), "python-worker-7 is writing…");
  c.apply("AiResponse", { taskId: turn.taskId, response: "Hi!", workerId: "python-worker-7", provider: "gemini:gemini-2.5-flash", processingTimeMs: 2314 });
  assert.equal(statusText(turn, true), "");
  assert.equal(formatMeta(turn), "python-worker-7 · gemini:gemini-2.5-flash · 2.3 s");

  const refused = turnAsked();
  refused.c.submitFailed(refused.turn.taskId, refused.token, { refused: true, message: "The queue is full (10000 questions are waiting). Please try again in a minute." });
  assert.equal(statusText(refused.turn, true), "The queue is full (10000 questions are waiting). Please try again in a minute.");
});

test("a restored open question waits for its next event", () => {
  const c = new Conversation();
  c.sessionStarted({ sessionId: "s", resumed: true, history: [{ taskId: "a0000000-0000-4000-8000-000000000001", query: "q", timestamp: 1 }] });
  assert.equal(statusText(c.turns[0], true), "Waiting for an update…");
});

test("an answer's meta line shows its tokens when the worker reported them", () => {
  const { c, turn } = turnAsked();
  c.apply("AiResponse", { taskId: turn.taskId, response: "Hi!", workerId: "w1", provider: "gemini:gemini-2.5-flash", processingTimeMs: 1200,
    promptTokens: 12, outputTokens: 48 });
  assert.equal(formatMeta(turn), "w1 · gemini:gemini-2.5-flash · 1.2 s · 12 + 48 tokens");
  turn.promptTokens = null;
  assert.equal(formatMeta(turn), "w1 · gemini:gemini-2.5-flash · 1.2 s · 48 output tokens");
  turn.outputTokens = null;
  assert.equal(formatMeta(turn), "w1 · gemini:gemini-2.5-flash · 1.2 s");
});

test("tokens absent or null (an older server, a worker that reported none) are unknown, not 0", () => {
  const { c, turn } = turnAsked();
  c.apply("AiResponse", { taskId: turn.taskId, response: "Hi!", workerId: "w1", provider: "simulated", processingTimeMs: 5, promptTokens: null });
  assert.equal(turn.promptTokens, null);
  assert.equal(turn.outputTokens, null);
  assert.equal(formatMeta(turn), "w1 · simulated · 0.0 s");
});

test("a stopped answer says Stopped; one being stopped says so until the server confirms", () => {
  const { c, turn, token } = turnAsked();
  c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "assigned", workerId: "w1", attempt: 1 });
  c.stop(turn.taskId);
  assert.equal(statusText(turn, true), "Stopping…");
  c.apply("TaskCancelled", { taskId: turn.taskId, text: "Hi" });
  assert.equal(statusText(turn, true), "Stopped");
});
