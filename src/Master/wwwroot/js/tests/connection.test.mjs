// The connection's rules with a fake SignalR client: node --test src/Master/wwwroot/js/tests/
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createConnection, deleteSessionAt, classify, HUB_EVENTS } from "../connection.js";

/** A stand-in for the vendored client: every built connection is kept, its handlers can be fired by the test. */
function fakeSignalR({ onStart = () => {}, reply = () => ({}) } = {}) {
  const built = [];
  class FakeConnection {
    constructor(url) {
      this.baseUrl = url;
      this.state = "Disconnected";
      this.handlers = new Map();
      this.invocations = [];
      this.stopped = false;
    }
    on(name, handler) {
      this.handlers.set(name, handler);
    }
    onreconnecting() {}
    onreconnected() {}
    onclose() {}
    async start() {
      this.state = "Connected";
      onStart(this);
    }
    async stop() {
      this.state = "Disconnected";
      this.stopped = true;
    }
    async invoke(method, ...args) {
      this.invocations.push([method, ...args]);
      return reply(method, ...args);
    }
    emit(name, payload) {
      this.handlers.get(name)?.(payload);
    }
  }
  class HubConnectionBuilder {
    withUrl(url) {
      this.url = url;
      return this;
    }
    withAutomaticReconnect() {
      return this;
    }
    configureLogging() {
      return this;
    }
    build() {
      const conn = new FakeConnection(this.url);
      built.push(conn);
      return conn;
    }
  }
  return { built, HubConnectionBuilder, HubConnectionState: { Connected: "Connected", Disconnected: "Disconnected" }, LogLevel: { Warning: 3 } };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("switching conversations", () => {
  test("the old connection's events are ignored once the page has switched; the new one connects to the other session", async () => {
    const signalR = fakeSignalR();
    let session = "s1";
    const events = [];
    const connection = createConnection({
      signalR,
      hubUrl: () => `http://host/hubs/chat?session=${session}`,
      onEvent: (name, payload) => events.push([name, payload.taskId]),
      onState: () => {},
    });
    connection.start();
    await tick();
    const [first] = signalR.built;
    assert.equal(first.baseUrl, "http://host/hubs/chat?session=s1");
    first.emit("AiResponseChunk", { taskId: "t1" });
    assert.deepEqual(events, [["AiResponseChunk", "t1"]]);

    session = "s2";
    const restarted = connection.restart();
    first.emit("AiResponse", { taskId: "t1" }); // late news of the conversation left behind
    first.emit("TaskCancelled", { taskId: "t1" });
    await restarted;
    await tick();
    const second = signalR.built[1];
    assert.equal(first.stopped, true);
    assert.equal(second.baseUrl, "http://host/hubs/chat?session=s2");
    second.emit("AiResponse", { taskId: "t2" });
    first.emit("AiResponse", { taskId: "t1" });
    assert.deepEqual(events, [["AiResponseChunk", "t1"], ["AiResponse", "t2"]]);
  });

  test("TaskCancelled is one of the events listened for", () => {
    assert.ok(HUB_EVENTS.includes("TaskCancelled"));
  });

  test("Stop calls CancelTask with the question's id on the current connection", async () => {
    const signalR = fakeSignalR({ reply: (method, taskId) => ({ taskId, status: "cancelled" }) });
    const connection = createConnection({ signalR, hubUrl: () => "http://host/hubs/chat", onEvent: () => {}, onState: () => {} });
    connection.start();
    await tick();
    assert.deepEqual(await connection.cancel("t9"), { taskId: "t9", status: "cancelled" });
    assert.deepEqual(signalR.built[0].invocations, [["CancelTask", "t9"]]);
  });
});

describe("deleting another conversation over a short-lived connection", () => {
  test("connects to it, waits for its SessionStarted, deletes it and closes", async () => {
    const signalR = fakeSignalR({ onStart: (conn) => setTimeout(() => conn.emit("SessionStarted", { sessionId: "s2", resumed: true, history: [] }), 1) });
    const result = await deleteSessionAt({ signalR, hubUrl: "http://host/hubs/chat?session=s2&token=t", sessionId: "s2" });
    assert.deepEqual(result, { deleted: true });
    const [conn] = signalR.built;
    assert.equal(conn.baseUrl, "http://host/hubs/chat?session=s2&token=t");
    assert.deepEqual(conn.invocations, [["DeleteSession"]]);
    assert.equal(conn.stopped, true);
    for (const name of HUB_EVENTS) assert.ok(conn.handlers.has(name), `${name} is listened for (no client warning)`);
  });

  test("a session the server cannot give back (a new id came) is not deleted: there is nothing of it left", async () => {
    const signalR = fakeSignalR({ onStart: (conn) => conn.emit("SessionStarted", { sessionId: "fresh", resumed: false, history: [] }) });
    const result = await deleteSessionAt({ signalR, hubUrl: "http://host/hubs/chat?session=s2&token=bad", sessionId: "s2" });
    assert.deepEqual(result, { deleted: false });
    assert.deepEqual(signalR.built[0].invocations, []);
    assert.equal(signalR.built[0].stopped, true);
  });

  test("a refusal is the server's message; the connection is closed anyway", async () => {
    const signalR = fakeSignalR({
      onStart: (conn) => conn.emit("SessionStarted", { sessionId: "s2", resumed: true, history: [] }),
      reply: () => {
        throw new Error("An unexpected error occurred invoking 'DeleteSession' on the server. HubException: The server is restarting. Delete the conversation again in a few seconds.");
      },
    });
    await assert.rejects(deleteSessionAt({ signalR, hubUrl: "u", sessionId: "s2" }),
      { refused: true, message: "The server is restarting. Delete the conversation again in a few seconds." });
    assert.equal(signalR.built[0].stopped, true);
  });
});

describe("errors of hub calls", () => {
  test("a HubException is a refusal with the server's text; a lost call is not", () => {
    const refused = classify(new Error("An unexpected error occurred invoking 'CancelTask' on the server. HubException: Only the last question of the conversation can be asked again or edited."));
    assert.equal(refused.refused, true);
    assert.equal(refused.message, "Only the last question of the conversation can be asked again or edited.");
    assert.equal(classify(new Error("Invocation canceled due to the underlying connection being closed.")).refused, false);
  });

  test("an older server without the method refuses, in words", () => {
    for (const raw of ["Failed to invoke 'CancelTask' due to an error on the server. HubException: Method does not exist.", "Unknown hub method 'CancelTask'"]) {
      const err = classify(new Error(raw));
      assert.equal(err.refused, true);
      assert.equal(err.message, "This server cannot do that (it is an older version).");
    }
  });
});
