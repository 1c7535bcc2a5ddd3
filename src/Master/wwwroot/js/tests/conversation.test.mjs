// The conversation's rules without a browser: node --test src/Master/wwwroot/js/tests/
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Conversation, Phase, LOST_MESSAGE, isTerminal } from "../conversation.js";

const T0 = 1_718_013_600_000;
const OTHER = "0b7a4c2e-1d3f-4e5a-8b6c-7d8e9f0a1b2c";
const UNKNOWN = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";

/** A conversation with predictable ids (task-1, task-2, …) and a clock at T0. */
function conversation() {
  let n = 0;
  return new Conversation({ newId: () => `00000000-0000-4000-8000-00000000000${++n}`, now: () => T0 });
}

/** Asks and starts its SubmitQuery call: [turn, token]. */
function asked(c, query = "What is Docker Swarm?") {
  const turn = c.ask(query);
  return [turn, c.submitStarted(turn.taskId)];
}

const accepted = (id, query = "What is Docker Swarm?") => ["TaskAccepted", { taskId: id, query, timestamp: T0 - 1000 }];
const chunk = (id, attempt, offset, text) => ["AiResponseChunk", { taskId: id, attempt, offset, text }];
const answer = (id, response = "Docker Swarm is …") =>
  ["AiResponse", { taskId: id, query: "ignored", response, workerId: "w1", provider: "simulated", processingTimeMs: 2314, timestamp: T0 }];

describe("asking", () => {
  test("a question becomes a turn at once, in the sending state, under the page's own id", () => {
    const c = conversation();
    const turn = c.ask("  What is Docker Swarm?  ");
    assert.equal(turn.phase, Phase.Sending);
    assert.equal(turn.query, "What is Docker Swarm?");
    assert.equal(turn.taskId, "00000000-0000-4000-8000-000000000001");
    assert.equal(turn.mine, true);
    assert.equal(turn.accepted, false);
    assert.deepEqual(c.toSubmit(), [turn]);
  });

  test("an empty question is no turn", () => {
    const c = conversation();
    assert.equal(c.ask("   \n "), null);
    assert.equal(c.size, 0);
  });

  test("a question whose call is in flight is not sent twice", () => {
    const c = conversation();
    asked(c);
    assert.deepEqual(c.toSubmit(), []);
  });
});

describe("the SubmitQuery reply and the events", () => {
  test("a reply before any event says where the question stands", () => {
    const c = conversation();
    const [turn, token] = asked(c);
    c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "queued", position: 2 });
    assert.equal(turn.phase, Phase.Queued);
    assert.equal(turn.position, 2);
    assert.equal(turn.accepted, true);
    assert.deepEqual(c.toSubmit(), []);
  });

  test("a reply after the task's events is older news and changes nothing", () => {
    const c = conversation();
    const [turn, token] = asked(c);
    c.apply(...accepted(turn.taskId));
    assert.equal(turn.phase, Phase.Accepted);
    c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "w1", attempt: 1 });
    c.apply(...chunk(turn.taskId, 1, 0, "Docker"));
    c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "queued", position: 3 });
    assert.equal(turn.phase, Phase.Streaming);
    assert.equal(turn.text, "Docker");
    assert.equal(turn.position, null);
  });

  test("even the answer can come before the reply", () => {
    const c = conversation();
    const [turn, token] = asked(c);
    c.apply(...accepted(turn.taskId));
    c.apply(...answer(turn.taskId));
    c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "assigned", position: null });
    assert.equal(turn.phase, Phase.Answered);
    assert.equal(turn.text, "Docker Swarm is …");
  });

  test("TaskAccepted of the page's own question keeps its turn and its text", () => {
    const c = conversation();
    const [turn] = asked(c);
    assert.equal(c.apply(...accepted(turn.taskId, "What is Docker Swarm?\n")), turn);
    assert.equal(c.size, 1);
    assert.equal(turn.query, "What is Docker Swarm?");
    assert.equal(turn.accepted, true);
  });

  test("'answered' as the reply to a resent question waits for the outcome (history or event)", () => {
    const c = conversation();
    const [turn, token] = asked(c);
    c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "answered", position: null });
    assert.equal(turn.phase, Phase.Accepted);
    c.apply(...answer(turn.taskId));
    assert.equal(turn.phase, Phase.Answered);
  });
});

describe("other tabs and unknown tasks", () => {
  test("TaskAccepted from another tab creates its turn; its events and answer follow", () => {
    const c = conversation();
    const turn = c.apply(...accepted(OTHER, "Asked in the other tab"));
    assert.equal(turn.taskId, OTHER);
    assert.equal(turn.query, "Asked in the other tab");
    assert.equal(turn.mine, false);
    assert.equal(turn.phase, Phase.Accepted);
    assert.equal(turn.askedAt, T0 - 1000);
    assert.deepEqual(c.toSubmit(), [], "another tab's question is never sent from here");
    c.apply("TaskQueued", { taskId: OTHER, position: 1 });
    assert.equal(turn.phase, Phase.Queued);
    c.apply(...answer(OTHER));
    assert.equal(turn.phase, Phase.Answered);
    assert.equal(c.size, 1);
  });

  test("events of a task this page was never told of are ignored, an answer with its query too", () => {
    const c = conversation();
    assert.equal(c.apply("TaskQueued", { taskId: UNKNOWN, position: 1 }), null);
    assert.equal(c.apply("TaskAssigned", { taskId: UNKNOWN, workerId: "w1", attempt: 1 }), null);
    assert.equal(c.apply(...chunk(UNKNOWN, 1, 0, "text")), null);
    assert.equal(c.apply(...answer(UNKNOWN)), null);
    assert.equal(c.apply("TaskFailed", { taskId: UNKNOWN, error: "no", retryable: true }), null);
    assert.equal(c.size, 0);
    // ...and they are not kept for later either: TaskAccepted afterwards starts from nothing.
    const turn = c.apply(...accepted(UNKNOWN));
    assert.equal(turn.phase, Phase.Accepted);
    assert.equal(turn.text, "");
  });

  test("events without a task id, or of unknown kinds, are ignored", () => {
    const c = conversation();
    const [turn] = asked(c);
    assert.equal(c.apply("TaskQueued", null), null);
    assert.equal(c.apply("TaskQueued", { position: 1 }), null);
    assert.equal(c.apply("SomethingNew", { taskId: turn.taskId }), null);
    assert.equal(turn.phase, Phase.Sending);
  });
});

describe("streamed text", () => {
  test("chunks append at their offset, and an offset inside the text replaces the tail", () => {
    const c = conversation();
    const [turn] = asked(c);
    c.apply(...accepted(turn.taskId));
    c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "w1", attempt: 1 });
    c.apply(...chunk(turn.taskId, 1, 0, "Hello wor"));
    assert.equal(turn.phase, Phase.Streaming);
    c.apply(...chunk(turn.taskId, 1, 6, "world"));
    assert.equal(turn.text, "Hello world");
    c.apply(...chunk(turn.taskId, 1, 11, "!"));
    assert.equal(turn.text, "Hello world!");
  });

  test("a chunk beyond the text (a gap) is dropped", () => {
    const c = conversation();
    const [turn] = asked(c);
    c.apply(...chunk(turn.taskId, 1, 0, "Hello"));
    assert.equal(c.apply(...chunk(turn.taskId, 1, 9, "lost")), null);
    assert.equal(c.apply(...chunk(turn.taskId, 1, -1, "bad")), null);
    assert.equal(c.apply(...chunk(turn.taskId, 1, 1.5, "bad")), null);
    assert.equal(turn.text, "Hello");
  });

  test("a new attempt clears the streamed text; the old attempt's late text is dropped", () => {
    const c = conversation();
    const [turn] = asked(c);
    c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "w1", attempt: 1 });
    c.apply(...chunk(turn.taskId, 1, 0, "First worker's text"));
    c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "w2", attempt: 2 });
    assert.equal(turn.text, "");
    assert.equal(turn.phase, Phase.Assigned);
    assert.equal(turn.workerId, "w2");
    assert.equal(c.apply(...chunk(turn.taskId, 1, 19, " more")), null);
    assert.equal(c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "w1", attempt: 1 }), null);
    c.apply(...chunk(turn.taskId, 2, 0, "Second"));
    assert.equal(turn.text, "Second");
    assert.equal(turn.attempt, 2);
  });

  test("a chunk of a new attempt clears the text even before its TaskAssigned", () => {
    const c = conversation();
    const [turn] = asked(c);
    c.apply(...chunk(turn.taskId, 1, 0, "First"));
    c.apply(...chunk(turn.taskId, 2, 0, "Again"));
    assert.equal(turn.text, "Again");
    assert.equal(turn.attempt, 2);
  });

  test("the same attempt assigned again keeps the text being written", () => {
    const c = conversation();
    const [turn] = asked(c);
    c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "w1", attempt: 1 });
    c.apply(...chunk(turn.taskId, 1, 0, "Writing"));
    c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "w1", attempt: 1 });
    assert.equal(turn.phase, Phase.Streaming);
    assert.equal(turn.text, "Writing");
  });

  test("the answer replaces the streamed text", () => {
    const c = conversation();
    const [turn] = asked(c);
    c.apply(...chunk(turn.taskId, 1, 0, "Docker Sw"));
    c.apply(...answer(turn.taskId, "Docker Swarm is a scheduler."));
    assert.equal(turn.text, "Docker Swarm is a scheduler.");
    assert.equal(turn.workerId, "w1");
    assert.equal(turn.provider, "simulated");
    assert.equal(turn.processingTimeMs, 2314);
  });
});

describe("SessionStarted and the history", () => {
  const history = [
    { taskId: "a0000000-0000-4000-8000-000000000001", query: "Answered one", response: "An answer", error: null,
      workerId: "w1", processingTimeMs: 1200, provider: "simulated", timestamp: T0 - 60_000, retryable: null, partial: null },
    { taskId: "a0000000-0000-4000-8000-000000000002", query: "Failed one", response: null, error: "The key was rejected.",
      workerId: null, processingTimeMs: null, provider: null, timestamp: T0 - 50_000, retryable: false, partial: null },
    { taskId: "a0000000-0000-4000-8000-000000000003", query: "Streaming one", response: null, error: null,
      workerId: null, processingTimeMs: null, provider: null, timestamp: T0 - 5_000, retryable: null, partial: "The text so" },
    { taskId: "a0000000-0000-4000-8000-000000000004", query: "Open one", response: null, error: null,
      workerId: null, processingTimeMs: null, provider: null, timestamp: T0 - 1_000, retryable: null, partial: null },
  ];

  test("a reload rebuilds every turn from the history, with the text streamed so far", () => {
    const c = conversation();
    const started = c.sessionStarted({ sessionId: "s1", resumed: true, history });
    assert.equal(started.sessionId, "s1");
    assert.equal(started.changed.length, 4);
    const [done, failed, streaming, open] = c.turns;
    assert.equal(done.phase, Phase.Answered);
    assert.equal(done.text, "An answer");
    assert.equal(done.askedAt, T0 - 60_000);
    assert.equal(failed.phase, Phase.Failed);
    assert.equal(failed.error, "The key was rejected.");
    assert.equal(failed.retryable, false);
    assert.equal(streaming.phase, Phase.Streaming);
    assert.equal(streaming.text, "The text so");
    assert.equal(open.phase, Phase.Accepted);
    assert.equal(open.restored, true, "where an open question stands is not known until its next event");
    assert.ok(c.turns.every((t) => !t.mine && t.accepted));
    assert.deepEqual(c.toSubmit(), []);

    // The next chunk continues the partial text from its length.
    c.apply(...chunk(streaming.taskId, 1, "The text so".length, " far"));
    assert.equal(streaming.text, "The text so far");
  });

  test("an empty answer in the history is an answer", () => {
    const c = conversation();
    c.sessionStarted({ sessionId: "s1", resumed: true, history: [{ ...history[3], response: "", workerId: "w1" }] });
    assert.equal(c.turns[0].phase, Phase.Answered);
  });

  test("on a reconnect the history's partial text never shortens newer text of the same answer", () => {
    const c = conversation();
    c.sessionStarted({ sessionId: "s1", resumed: true, history: [history[2]] });
    const turn = c.turns[0];
    c.apply(...chunk(turn.taskId, 1, 11, " far, and more"));
    c.sessionStarted({ sessionId: "s1", resumed: true, history: [history[2]] });
    assert.equal(turn.text, "The text so far, and more");
    c.sessionStarted({ sessionId: "s1", resumed: true, history: [{ ...history[2], partial: "Other text" }] });
    assert.equal(turn.text, "Other text");
  });

  test("the history confirms a question whose reply was lost, and brings its answer", () => {
    const c = conversation();
    const [turn, token] = asked(c, "Lost reply");
    c.submitFailed(turn.taskId, token, { refused: false, message: "connection closed" });
    c.sessionStarted({ sessionId: "s1", resumed: true, history: [{ ...history[0], taskId: turn.taskId, query: "Lost reply" }] });
    assert.equal(c.size, 1);
    assert.equal(turn.phase, Phase.Answered);
    assert.deepEqual(c.toSubmit(), [], "an answered question is not sent again");
  });

  test("a session that was not resumed fails what the server had and leaves unconfirmed questions to be sent", () => {
    const c = conversation();
    c.sessionStarted({ sessionId: "s1", resumed: true, history });
    const [unsent] = asked(c, "Not confirmed yet");
    c.submitFailed(unsent.taskId, unsent.submit.token, { refused: false, message: "connection closed" });
    const started = c.sessionStarted({ sessionId: "s2", resumed: false, history: [] });
    const [done, failed, streaming, open] = c.turns;
    assert.equal(done.phase, Phase.Answered);
    assert.equal(failed.error, "The key was rejected.");
    for (const t of [streaming, open]) {
      assert.equal(t.phase, Phase.Failed);
      assert.equal(t.error, LOST_MESSAGE);
      assert.equal(t.retryable, true);
    }
    assert.deepEqual(started.changed, [streaming, open]);
    assert.equal(unsent.phase, Phase.Sending);
    assert.deepEqual(c.toSubmit(), [unsent]);
  });

  test("a SessionStarted without a session id is ignored", () => {
    const c = conversation();
    assert.equal(c.sessionStarted({ resumed: true, history }), null);
    assert.equal(c.sessionStarted(null), null);
    assert.equal(c.size, 0);
  });
});

describe("deleting the conversation", () => {
  test("everything the server had goes; this page's questions it never confirmed stay, to go into the new session", () => {
    const c = conversation();
    const restored = { taskId: "a0000000-0000-4000-8000-000000000001", query: "Answered one", response: "An answer", error: null,
      workerId: "w1", processingTimeMs: 1200, provider: "simulated", timestamp: T0 - 60_000, retryable: null, partial: null };
    c.sessionStarted({ sessionId: "s1", resumed: true, history: [restored] });
    const [confirmed, confirmedToken] = asked(c, "Confirmed before the deletion");
    c.submitSucceeded(confirmed.taskId, confirmedToken, { taskId: confirmed.taskId, status: "assigned", workerId: "w1", attempt: 1 });
    c.apply(...accepted(OTHER, "From another tab"));
    const [inFlight, inFlightToken] = asked(c, "Its call was in flight");
    const [refused, refusedToken] = asked(c, "Refused");
    c.submitFailed(refused.taskId, refusedToken, { refused: true, message: "Too fast." });
    const waiting = c.ask("Typed while disconnected");

    const kept = c.sessionDeleted();

    assert.deepEqual(kept, [inFlight, refused, waiting]);
    assert.deepEqual(c.turns, kept);
    assert.equal(c.get(restored.taskId), null);
    assert.equal(c.get(confirmed.taskId), null);
    assert.equal(c.get(OTHER), null);
    assert.deepEqual(c.toSubmit(), [waiting], "the call in flight is not made twice");
    // The deletion refused the question whose call was in flight: it can be sent again, into the new session.
    c.submitFailed(inFlight.taskId, inFlightToken, { refused: true, message: "This conversation is being deleted." });
    assert.equal(inFlight.phase, Phase.Refused);
    assert.equal(c.sendAgain(inFlight.taskId), inFlight);
    // Late news of the deleted conversation changes nothing: its questions are unknown now.
    assert.equal(c.apply(...answer(confirmed.taskId)), null);
    assert.equal(c.submitSucceeded(confirmed.taskId, confirmedToken, { status: "assigned" }), null);
    assert.equal(c.size, 3);
  });

  test("the new, empty session that follows fails nothing and sends what was kept", () => {
    const c = conversation();
    const [stored, token] = asked(c, "Stored, then deleted");
    c.submitSucceeded(stored.taskId, token, { taskId: stored.taskId, status: "queued", position: 1 });
    const waiting = c.ask("Not sent yet");
    c.sessionDeleted();
    const started = c.sessionStarted({ sessionId: "s1", resumed: false, history: [] });
    assert.deepEqual(started.changed, []);
    assert.deepEqual(c.turns, [waiting]);
    assert.equal(waiting.phase, Phase.Sending);
    assert.deepEqual(c.toSubmit(), [waiting]);
  });
});

describe("sending again", () => {
  test("a call lost with the connection is sent again under the same id, and stays one turn", () => {
    const c = conversation();
    const [turn, first] = asked(c);
    c.submitFailed(turn.taskId, first, { refused: false, message: "Invocation canceled due to the underlying connection being closed." });
    assert.equal(turn.phase, Phase.Sending);
    assert.equal(turn.submit.retrying, true, "the page says it is sent again");
    assert.deepEqual(c.toSubmit(), [turn]);
    const second = c.submitStarted(turn.taskId);
    assert.equal(turn.submit.tries, 2);
    // The server stored the first one: the second call gets where it stands, its events go to the same turn.
    c.apply(...accepted(turn.taskId));
    c.submitSucceeded(turn.taskId, second, { taskId: turn.taskId, status: "assigned", position: null });
    c.apply(...answer(turn.taskId));
    assert.equal(c.size, 1);
    assert.equal(turn.phase, Phase.Answered);
    assert.deepEqual(c.toSubmit(), []);
  });

  test("a replaced call's late failure changes nothing", () => {
    const c = conversation();
    const [turn, first] = asked(c);
    c.submitFailed(turn.taskId, first, { refused: false, message: "timed out" });
    const second = c.submitStarted(turn.taskId);
    assert.equal(c.submitFailed(turn.taskId, first, { refused: true, message: "late" }), null);
    assert.equal(turn.submit.token, second);
    assert.equal(turn.phase, Phase.Sending);
  });

  test("a refused question shows the server's message; Send again keeps its id, Edit gives its text back", () => {
    const c = conversation();
    const [turn, token] = asked(c, "Too fast");
    c.submitFailed(turn.taskId, token, { refused: true, message: "You are sending questions too fast (at most 30 a minute). Wait 12 s and send it again." });
    assert.equal(turn.phase, Phase.Refused);
    assert.match(turn.error, /too fast/);
    assert.deepEqual(c.toSubmit(), []);
    assert.equal(isTerminal(turn), false);

    assert.equal(c.sendAgain(turn.taskId), turn);
    assert.equal(turn.phase, Phase.Sending);
    assert.equal(turn.error, null);
    assert.deepEqual(c.toSubmit(), [turn]);
    c.submitFailed(turn.taskId, c.submitStarted(turn.taskId), { refused: true, message: "Still too fast" });

    assert.equal(c.withdraw(turn.taskId), "Too fast");
    assert.equal(c.size, 0);
  });

  test("a refusal after the server's own TaskAccepted is outweighed; a TaskAccepted after a refusal revives the turn", () => {
    const c = conversation();
    const [a, tokenA] = asked(c, "Accepted first");
    c.apply(...accepted(a.taskId));
    c.submitFailed(a.taskId, tokenA, { refused: true, message: "The server is busy and did not accept the question in time." });
    assert.equal(a.phase, Phase.Accepted);

    const [b, tokenB] = asked(c, "Refused first");
    c.submitFailed(b.taskId, tokenB, { refused: true, message: "The server is busy and did not accept the question in time." });
    assert.equal(b.phase, Phase.Refused);
    c.apply(...accepted(b.taskId));
    assert.equal(b.phase, Phase.Accepted);
    assert.equal(b.error, null);
  });

  test("Ask again on a failed question is a new question under a new id", () => {
    const c = conversation();
    const [turn] = asked(c, "Fails");
    c.apply("TaskFailed", { taskId: turn.taskId, error: "Gemini is overloaded.", retryable: true });
    const again = c.askAgain(turn.taskId);
    assert.notEqual(again.taskId, turn.taskId);
    assert.equal(again.query, "Fails");
    assert.equal(again.phase, Phase.Sending);
    assert.equal(turn.phase, Phase.Failed);
    assert.equal(c.size, 2);
    assert.equal(c.askAgain(again.taskId), null, "only a failed question is asked again");
  });
});

describe("terminal states are final", () => {
  test("nothing changes an answered question", () => {
    const c = conversation();
    const [turn] = asked(c);
    c.apply(...answer(turn.taskId, "Final"));
    assert.equal(c.apply("TaskFailed", { taskId: turn.taskId, error: "late", retryable: true }), null);
    assert.equal(c.apply(...chunk(turn.taskId, 2, 0, "late")), null);
    assert.equal(c.apply("TaskQueued", { taskId: turn.taskId, position: 1 }), null);
    assert.equal(c.apply("TaskAssigned", { taskId: turn.taskId, workerId: "w9", attempt: 3 }), null);
    assert.equal(c.apply(...answer(turn.taskId, "Second answer")), null);
    c.sessionStarted({ sessionId: "s1", resumed: false, history: [] });
    c.sessionStarted({ sessionId: "s1", resumed: true, history: [{ taskId: turn.taskId, query: "q", response: null, error: "late", timestamp: T0 }] });
    assert.equal(turn.phase, Phase.Answered);
    assert.equal(turn.text, "Final");
  });

  test("nothing changes a failed question", () => {
    const c = conversation();
    const [turn, token] = asked(c);
    c.apply("TaskFailed", { taskId: turn.taskId, error: "The key was rejected.", retryable: false });
    assert.equal(c.apply(...answer(turn.taskId)), null);
    c.submitSucceeded(turn.taskId, token, { taskId: turn.taskId, status: "queued", position: 1 });
    assert.equal(turn.phase, Phase.Failed);
    assert.equal(turn.error, "The key was rejected.");
    assert.equal(turn.retryable, false);
  });

  test("a failure without a message gets one", () => {
    const c = conversation();
    const [turn] = asked(c);
    c.apply("TaskFailed", { taskId: turn.taskId, error: null, retryable: true });
    assert.equal(turn.error, "The question could not be answered.");
  });
});
