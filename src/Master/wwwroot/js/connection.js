// The SignalR connection to the chat hub (docs/protocol.md §5.1): one at a time, always pointed at the session the page
// knows (?session=), reconnecting on its own: first the client's automatic reconnect, then our own retry loop for as
// long as it takes. "New conversation", switching to another conversation and a deleted conversation replace the
// connection; a generation number makes the old one's handlers and its retry loop stand down, so that nothing of the
// conversation left behind reaches the page after the switch.

export const HUB_EVENTS = [
  "SessionStarted", "TaskAccepted", "TaskQueued", "TaskAssigned", "AiResponseChunk", "AiResponse", "TaskFailed", "SessionDeleted",
  "TaskCancelled",
];

/** Delays between our own start attempts once the client's automatic reconnect gave up (or the first start failed). */
const RETRY_DELAYS_MS = [1000, 2000, 5000, 10000, 15000];
/** The hub answers a SubmitQuery within 15 s or says why not; past this the connection is taken for dead. */
const SUBMIT_TIMEOUT_MS = 20000;
/** The hub answers a DeleteSession within 30 s (it first waits for the session's writes in flight) or says why not. */
const DELETE_TIMEOUT_MS = 35000;
/** The hub answers a CancelTask within 15 s or says why not. */
const CANCEL_TIMEOUT_MS = 20000;
/** A short-lived connection (deleting another conversation) waits this long for its SessionStarted. */
const SESSION_TIMEOUT_MS = 20000;

/**
 * @param signalR the UMD global of the vendored client
 * @param hubUrl () => the hub's absolute URL, with the current session id
 * @param onEvent (name, payload) => void, for the current connection's hub events
 * @param onState (state) => void: "connecting" | "connected" | "reconnecting" | "disconnected"
 */
export function createConnection({ signalR, hubUrl, onEvent, onState }) {
  let connection = null;
  let generation = 0;
  let loopGeneration = -1; // the generation whose start loop is running, if any
  let wakeRetry = null;
  let state = "connecting";

  function setState(next) {
    state = next;
    onState(next);
  }

  function build() {
    const conn = new signalR.HubConnectionBuilder()
      .withUrl(hubUrl())
      .withAutomaticReconnect()
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    // Handlers of a connection that has been replaced do nothing.
    for (const name of HUB_EVENTS) {
      conn.on(name, (payload) => {
        if (conn === connection) onEvent(name, payload);
      });
    }
    conn.onreconnecting(() => {
      if (conn !== connection) return;
      setState("reconnecting");
      // The first connection of a new session was made without ?session=: point every reconnect attempt at the
      // session the server gave us, so that it resumes it.
      try {
        conn.baseUrl = hubUrl();
      } catch {
        // only possible outside the Reconnecting state; the old URL is then used
      }
    });
    conn.onreconnected(() => {
      if (conn === connection) setState("connected");
    });
    conn.onclose(() => {
      if (conn !== connection) return;
      setState("disconnected");
      startLoop();
    });
    return conn;
  }

  function sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (wakeRetry === done) wakeRetry = null;
        resolve();
      }
      wakeRetry = done;
    });
  }

  /** Starts the current connection, retrying for as long as it stays the current one. */
  async function startLoop() {
    const gen = generation;
    if (loopGeneration === gen) return; // already running for this connection
    loopGeneration = gen;
    try {
      for (let attempt = 0; gen === generation; attempt++) {
        const conn = connection;
        if (conn.state !== signalR.HubConnectionState.Disconnected) return;
        setState("connecting");
        try {
          conn.baseUrl = hubUrl();
          await conn.start();
          if (gen === generation) setState("connected");
          return;
        } catch {
          if (gen !== generation) return;
          setState("disconnected");
          await sleep(RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]);
        }
      }
    } finally {
      if (loopGeneration === gen) loopGeneration = -1;
    }
  }

  return {
    get state() {
      return state;
    },

    /** The connection is up (a SubmitQuery can be made now). */
    get connected() {
      return !!connection && connection.state === signalR.HubConnectionState.Connected;
    },

    start() {
      connection = build();
      setState("connecting");
      startLoop();
    },

    /** Drops the current connection and connects again (with the session id hubUrl gives now). */
    async restart() {
      generation++;
      const old = connection;
      connection = build();
      setState("connecting");
      wake(); // a retry loop of the old connection wakes up, sees the new generation and ends
      if (old) {
        try {
          await old.stop();
        } catch {
          // it was not running
        }
      }
      startLoop();
    },

    /** Cuts a retry delay short (the browser is back online, the tab is visible again). */
    wake,

    /**
     * SubmitQuery({ query, apiKey, taskId }) on the current connection. Rejects with a SubmitError: refused when the
     * server said no (its message is for the user), otherwise the connection dropped or the call timed out.
     */
    submit(request) {
      return invoke(SUBMIT_TIMEOUT_MS, "SubmitQuery", request);
    },

    /**
     * DeleteSession() on the current connection: deletes this session's conversation on the server. Resolves with
     * { sessionId } once nothing of it is left; rejects with a SubmitError as submit does (refused: nothing deleted).
     */
    deleteSession() {
      return invoke(DELETE_TIMEOUT_MS, "DeleteSession");
    },

    /**
     * CancelTask(taskId) on the current connection: resolves with { taskId, status } (cancelled, or answered/failed
     * when the question had ended); rejects with a SubmitError as submit does.
     */
    cancel(taskId) {
      return invoke(CANCEL_TIMEOUT_MS, "CancelTask", taskId);
    },
  };

  function invoke(timeoutMs, method, ...args) {
    const conn = connection;
    if (!conn || conn.state !== signalR.HubConnectionState.Connected) return Promise.reject(new SubmitError(false, "not connected"));
    return invokeOn(conn, timeoutMs, method, ...args);
  }

  function wake() {
    if (wakeRetry) wakeRetry();
  }
}

async function invokeOn(conn, timeoutMs, method, ...args) {
  let timer = 0;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new SubmitError(false, "no answer in time")), timeoutMs);
  });
  try {
    return await Promise.race([conn.invoke(method, ...args), timeout]);
  } catch (err) {
    throw err instanceof SubmitError ? err : classify(err);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Deletes a conversation the page is not on, over a short-lived connection of its own (DeleteSession deletes the
 * session of the connection it is called on): connects with hubUrl (?session=&token=), waits for SessionStarted, and
 * calls DeleteSession if the server gave that session back. Resolves with { deleted: true } or, when the server has
 * no such session to give back (a new id came instead: nothing of it is left to delete), { deleted: false }; rejects
 * with a SubmitError (refused: the server's reason, nothing deleted). The connection is closed either way.
 */
export async function deleteSessionAt({ signalR, hubUrl, sessionId }) {
  const conn = new signalR.HubConnectionBuilder().withUrl(hubUrl).configureLogging(signalR.LogLevel.Warning).build();
  let started;
  const session = new Promise((resolve) => {
    started = resolve;
  });
  for (const name of HUB_EVENTS) conn.on(name, name === "SessionStarted" ? (payload) => started(payload) : () => {});
  let timer = 0;
  try {
    try {
      await conn.start();
    } catch (err) {
      throw new SubmitError(false, err && err.message ? String(err.message) : "could not connect");
    }
    const payload = await Promise.race([session, new Promise((_, reject) => {
      timer = setTimeout(() => reject(new SubmitError(false, "no answer in time")), SESSION_TIMEOUT_MS);
    })]);
    if (!payload || payload.sessionId !== sessionId) return { deleted: false };
    await invokeOn(conn, DELETE_TIMEOUT_MS, "DeleteSession");
    return { deleted: true };
  } finally {
    clearTimeout(timer);
    try {
      await conn.stop();
    } catch {
      // it was not running
    }
  }
}

export class SubmitError extends Error {
  constructor(refused, message) {
    super(message);
    this.refused = refused;
  }
}

const INVOKE_PREFIX = /^An unexpected error occurred invoking '[^']*' on the server\.\s*/;
/** An error before the method ran (an older server without it: "Failed to invoke 'CancelTask' due to an error on the server. HubException: Method does not exist."). */
const FAILED_PREFIX = /^Failed to invoke '[^']*' due to an error on the server\.\s*/;

/** What a failed invoke means: the server refused (HubException, or an error of its own) or the call was lost. */
export function classify(err) {
  const raw = err && err.message != null ? String(err.message) : String(err ?? "");
  if (/^Unknown hub method\b/i.test(raw)) return new SubmitError(true, "This server cannot do that (it is an older version).");
  if (FAILED_PREFIX.test(raw)) {
    const text = raw.replace(FAILED_PREFIX, "").replace(/^HubException:\s*/, "").trim();
    return new SubmitError(true, /^Method does not exist/i.test(text)
      ? "This server cannot do that (it is an older version)."
      : text || "The server could not do that right now. Please try again in a moment.");
  }
  if (INVOKE_PREFIX.test(raw)) {
    // A HubException reaches the browser as "An unexpected error occurred invoking 'SubmitQuery' on the server.
    // HubException: <text>"; any other server error as the prefix alone.
    const text = raw.replace(INVOKE_PREFIX, "").replace(/^HubException:\s*/, "").trim();
    return new SubmitError(true, text || "The server could not do that right now. Please try again in a moment.");
  }
  // "Invocation canceled due to the underlying connection being closed.", "Cannot send data if the connection is
  // not in the 'Connected' State.", a stopped connection: the question is sent again once the connection is back.
  return new SubmitError(false, raw);
}
