// AiSystem chat page: plain ES2020, no build step, no framework.
// Talks to the master's SignalR hub /hubs/chat (shared PROTOCOL.md §3).
// Every piece of text that comes from the user or the server is shown with textContent, never as HTML.
(() => {
  "use strict";

  const HUB_PATH = "/hubs/chat";
  const SESSION_KEY = "aisystem.sessionId";
  const API_KEY_KEY = "aisystem.apiKey";

  // Events for a taskId that has no turn yet (SubmitQuery has not returned) wait here.
  const MAX_BUFFERED_TASKS = 200;
  const BUFFER_TTL_MS = 10 * 60 * 1000;
  // Delays between our own start attempts, once the client's automatic reconnect has given up
  // (or the very first start failed).
  const RETRY_DELAYS_MS = [1000, 2000, 5000, 10000, 15000];
  const NEAR_BOTTOM_PX = 96;

  const STATE_TEXT = {
    connected: "Connected",
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    disconnected: "Disconnected",
  };

  const TERMINAL = new Set(["answered", "failed"]);

  const byId = (id) => document.getElementById(id);
  const ui = {
    state: byId("connection-state"),
    newSession: byId("new-session"),
    apiKey: byId("api-key"),
    toggleKey: byId("toggle-api-key"),
    scroller: byId("scroller"),
    log: byId("conversation"),
    emptyHint: byId("empty-hint"),
    form: byId("composer-form"),
    query: byId("query"),
    send: byId("send"),
    error: byId("query-error"),
  };

  // ---------------------------------------------------------------- storage

  function storageGet(key) {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null; // storage disabled: the page still works, it just forgets on reload
    }
  }

  function storageSet(key, value) {
    try {
      if (value) window.localStorage.setItem(key, value);
      else window.localStorage.removeItem(key);
    } catch {
      // storage disabled or full: keep the value in memory only
    }
  }

  // ---------------------------------------------------------------- state

  /** taskId -> turn record (see createTurn) */
  const turns = new Map();
  /** taskId -> { firstAt, events: [{ name, payload, receivedAt }] } */
  const buffered = new Map();
  /** queries whose SubmitQuery is in flight: a double Enter does not send twice */
  const inFlight = new Set();

  let sessionId = storageGet(SESSION_KEY) || null;
  let connection = null;
  let connectionState = "connecting";
  let generation = 0; // bumped by "New conversation": older connections and retry loops stand down
  let loopGeneration = -1; // generation whose start loop is running, if any
  let wakeRetry = null;
  let ticker = null;
  let errorIsConnectivity = false;

  // ---------------------------------------------------------------- connection

  function hubUrl() {
    // Absolute URL: HubConnection.baseUrl (set before reconnects) is not resolved by the client.
    const url = new URL(HUB_PATH, window.location.href);
    if (sessionId) url.searchParams.set("session", sessionId);
    return url.toString();
  }

  function setConnectionState(state) {
    connectionState = state;
    ui.state.dataset.state = state;
    ui.state.textContent = STATE_TEXT[state];
    ui.send.disabled = state !== "connected";
    if (state === "connected" && errorIsConnectivity) clearError();
  }

  function createConnection() {
    const conn = new signalR.HubConnectionBuilder()
      .withUrl(hubUrl())
      .withAutomaticReconnect()
      .configureLogging(signalR.LogLevel.Warning)
      .build();

    // Handlers of a connection that has been replaced ("New conversation") do nothing.
    const on = (name, handler) => conn.on(name, (payload) => {
      if (conn === connection) handler(payload);
    });
    on("SessionStarted", onSessionStarted);
    on("TaskQueued", (p) => routeEvent("TaskQueued", p));
    on("TaskAssigned", (p) => routeEvent("TaskAssigned", p));
    on("AiResponse", (p) => routeEvent("AiResponse", p));
    on("TaskFailed", (p) => routeEvent("TaskFailed", p));

    conn.onreconnecting(() => {
      if (conn !== connection) return;
      setConnectionState("reconnecting");
      // The first connection of a new session was made without ?session=: point every
      // reconnect attempt at the session the server gave us, so that it resumes it.
      try {
        conn.baseUrl = hubUrl();
      } catch {
        // only possible outside the Reconnecting state; the old URL is then used
      }
    });
    conn.onreconnected(() => {
      if (conn !== connection) return;
      setConnectionState("connected");
    });
    conn.onclose(() => {
      if (conn !== connection) return;
      setConnectionState("disconnected");
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

  function wake() {
    if (wakeRetry) wakeRetry();
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
        setConnectionState("connecting");
        try {
          conn.baseUrl = hubUrl();
          await conn.start();
          if (gen === generation) setConnectionState("connected");
          return;
        } catch {
          if (gen !== generation) return;
          setConnectionState("disconnected");
          await sleep(RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]);
        }
      }
    } finally {
      if (loopGeneration === gen) loopGeneration = -1;
    }
  }

  /** Drops the current connection and connects again with the (possibly cleared) session id. */
  async function restartConnection() {
    generation++;
    const old = connection;
    connection = createConnection();
    setConnectionState("connecting");
    wake(); // a retry loop of the old connection wakes up, sees the new generation and ends
    if (old) {
      try {
        await old.stop();
      } catch {
        // it was not running
      }
    }
    startLoop();
  }

  // ---------------------------------------------------------------- server events

  function onSessionStarted(payload) {
    if (!payload || typeof payload.sessionId !== "string" || !payload.sessionId) return;
    sessionId = payload.sessionId;
    storageSet(SESSION_KEY, sessionId);
    if (connection && connection.state === signalR.HubConnectionState.Connected) {
      setConnectionState("connected");
    }

    if (!payload.resumed) {
      // The server does not know our previous session (e.g. it restarted): what was still
      // waiting for an answer will never get one.
      for (const turn of turns.values()) {
        if (!TERMINAL.has(turn.state)) {
          applyFailed(turn, {
            error: "This question was lost because the server started a new session. Please ask it again.",
            retryable: true,
          });
        }
      }
      buffered.clear();
    }

    const history = Array.isArray(payload.history) ? payload.history : [];
    withAutoScroll(() => {
      for (const item of history) applyHistoryItem(item);
    }, false);
  }

  function applyHistoryItem(item) {
    if (!item || typeof item.taskId !== "string" || !item.taskId) return;
    let turn = turns.get(item.taskId);
    const isNew = !turn;
    if (isNew) turn = createTurn(item.taskId, typeof item.query === "string" ? item.query : "");
    if (item.error) {
      applyFailed(turn, { error: String(item.error), retryable: item.retryable === true });
    } else if (typeof item.response === "string" && item.response !== "") {
      applyResponse(turn, item);
    } else if (isNew) {
      setStatus(turn, "pending", "Waiting for an update…");
    }
    if (isNew) flushBuffered(turn);
  }

  function routeEvent(name, payload) {
    if (!payload || typeof payload.taskId !== "string" || !payload.taskId) return;
    const receivedAt = Date.now();
    withAutoScroll(() => {
      let turn = turns.get(payload.taskId);
      if (!turn && name === "AiResponse" && typeof payload.query === "string") {
        // An answer for a question this page has not seen (another tab of the same session,
        // or one whose SubmitQuery reply has not come back yet): it carries its query.
        turn = createTurn(payload.taskId, payload.query);
        flushBuffered(turn);
      }
      if (turn) applyEvent(turn, name, payload, receivedAt);
      else bufferEvent(name, payload, receivedAt);
    }, false);
  }

  function applyEvent(turn, name, payload, receivedAt) {
    switch (name) {
      case "TaskQueued":
        applyQueued(turn, payload.position);
        break;
      case "TaskAssigned":
        applyAssigned(turn, payload.workerId, payload.attempt, receivedAt);
        break;
      case "AiResponse":
        applyResponse(turn, payload);
        break;
      case "TaskFailed":
        applyFailed(turn, payload);
        break;
      default:
        break;
    }
  }

  function bufferEvent(name, payload, receivedAt) {
    const now = Date.now();
    for (const [taskId, entry] of buffered) {
      if (now - entry.firstAt > BUFFER_TTL_MS) buffered.delete(taskId);
      else break; // insertion order: the rest are younger
    }
    let entry = buffered.get(payload.taskId);
    if (!entry) {
      while (buffered.size >= MAX_BUFFERED_TASKS) buffered.delete(buffered.keys().next().value);
      entry = { firstAt: now, events: [] };
      buffered.set(payload.taskId, entry);
    }
    entry.events.push({ name, payload, receivedAt });
  }

  function flushBuffered(turn) {
    const entry = buffered.get(turn.taskId);
    if (!entry) return;
    buffered.delete(turn.taskId);
    for (const event of entry.events) applyEvent(turn, event.name, event.payload, event.receivedAt);
  }

  // ---------------------------------------------------------------- turns

  function element(tag, className) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    return el;
  }

  function createTurn(taskId, query) {
    const article = element("article", "turn");
    article.dataset.taskId = taskId;
    article.dataset.state = "pending";

    const question = element("div", "question");
    question.textContent = query;

    const statusRow = element("div", "status-row");
    const status = element("p", "status");
    const elapsed = element("span", "elapsed");
    elapsed.setAttribute("aria-hidden", "true"); // ticks every second: not for the live region
    statusRow.append(status, elapsed);

    const answer = element("div", "answer");
    const meta = element("p", "meta");
    const actions = element("div", "actions");

    article.append(question, statusRow, answer, meta, actions);
    ui.log.append(article);
    ui.emptyHint.hidden = true;

    const turn = {
      taskId,
      query,
      state: "pending",
      el: article,
      question,
      status,
      elapsed,
      answer,
      meta,
      actions,
      assignedAt: 0,
      attempt: 0,
    };
    turns.set(taskId, turn);
    return turn;
  }

  function setStatus(turn, state, text) {
    turn.state = state;
    turn.el.dataset.state = state;
    turn.status.textContent = text;
    if (state !== "assigned") {
      turn.elapsed.textContent = "";
      turn.assignedAt = 0;
    }
  }

  function applySubmitResult(turn, result) {
    if (result.status === "queued") {
      applyQueued(turn, result.position);
    } else if (result.status === "assigned") {
      applyAssigned(turn, null, 1, Date.now());
    } else {
      setStatus(turn, "pending", "Sent — waiting for a worker…");
    }
  }

  function applyQueued(turn, position) {
    if (TERMINAL.has(turn.state)) return;
    const n = Number(position);
    const text = position != null && Number.isFinite(n) ? `Queued — position ${n}` : "Queued";
    setStatus(turn, "queued", text);
  }

  function applyAssigned(turn, workerId, attempt, receivedAt) {
    if (TERMINAL.has(turn.state)) return;
    const n = Number(attempt) || 1;
    const restart = turn.state !== "assigned" || !turn.assignedAt || n !== turn.attempt;
    setStatus(turn, "assigned", workerId ? `Working on it — worker ${workerId}` : "Working on it…");
    turn.attempt = n;
    if (restart) turn.assignedAt = receivedAt;
    updateElapsed(turn);
    ensureTicker();
  }

  function applyResponse(turn, payload) {
    if (turn.state === "answered") return; // the server sends one answer per task; be safe anyway
    setStatus(turn, "answered", "");
    turn.answer.textContent = payload.response == null ? "" : String(payload.response);
    turn.meta.textContent = formatMeta(payload.workerId, payload.provider, payload.processingTimeMs);
    if (!turn.question.textContent && typeof payload.query === "string") {
      turn.question.textContent = payload.query;
      turn.query = payload.query;
    }
    turn.actions.replaceChildren();
  }

  function applyFailed(turn, payload) {
    if (turn.state === "answered") return;
    const error = payload.error ? String(payload.error) : "The question could not be answered.";
    setStatus(turn, "failed", error);
    turn.actions.replaceChildren();
    if (payload.retryable === true && turn.query && turn.query.trim()) {
      const retry = element("button", "button button-secondary button-small retry");
      retry.type = "button";
      retry.textContent = "Ask again";
      retry.setAttribute("aria-label", "Ask this question again");
      retry.addEventListener("click", () => submit(turn.query, false));
      turn.actions.append(retry);
    }
  }

  function formatMeta(workerId, provider, processingTimeMs) {
    const parts = [];
    if (workerId) parts.push(String(workerId));
    if (provider) parts.push(String(provider));
    const ms = Number(processingTimeMs);
    if (processingTimeMs != null && Number.isFinite(ms) && ms >= 0) parts.push(`${(ms / 1000).toFixed(1)} s`);
    return parts.join(" · ");
  }

  function updateElapsed(turn) {
    const seconds = Math.max(0, Math.floor((Date.now() - turn.assignedAt) / 1000));
    const text = turn.attempt > 1 ? `${seconds} s · attempt ${turn.attempt}` : `${seconds} s`;
    if (turn.elapsed.textContent !== text) turn.elapsed.textContent = text;
  }

  function ensureTicker() {
    if (ticker) return;
    ticker = setInterval(() => {
      let any = false;
      for (const turn of turns.values()) {
        if (turn.state === "assigned" && turn.assignedAt) {
          updateElapsed(turn);
          any = true;
        }
      }
      if (!any) {
        clearInterval(ticker);
        ticker = null;
      }
    }, 250); // several ticks a second so that the shown count never lags by a whole second
  }

  function clearConversation() {
    turns.clear();
    buffered.clear();
    for (const el of Array.from(ui.log.querySelectorAll(".turn"))) el.remove();
    ui.emptyHint.hidden = false;
  }

  // ---------------------------------------------------------------- scrolling

  /** The conversation scrolls inside its own box on wide screens and with the page on phones (see app.css). */
  function scrollingElement() {
    const own = window.getComputedStyle(ui.scroller).overflowY;
    return own === "auto" || own === "scroll" ? ui.scroller : document.scrollingElement || document.documentElement;
  }

  function isNearBottom() {
    const s = scrollingElement();
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  function scrollToBottom() {
    const s = scrollingElement();
    s.scrollTop = s.scrollHeight;
  }

  /** Runs a DOM change and keeps the newest turn in view if the reader was already at the end. */
  function withAutoScroll(change, force) {
    const follow = force || isNearBottom();
    change();
    if (follow) scrollToBottom();
  }

  // ---------------------------------------------------------------- sending

  function showError(message, connectivity) {
    ui.error.textContent = message;
    ui.error.hidden = false;
    errorIsConnectivity = Boolean(connectivity);
    ui.query.setAttribute("aria-invalid", connectivity ? "false" : "true");
  }

  function clearError() {
    ui.error.textContent = "";
    ui.error.hidden = true;
    errorIsConnectivity = false;
    ui.query.removeAttribute("aria-invalid");
  }

  function errorMessage(err) {
    let message = err && err.message != null ? String(err.message) : String(err == null ? "" : err);
    // A HubException reaches the browser as
    // "An unexpected error occurred invoking 'SubmitQuery' on the server. HubException: <text>".
    message = message
      .replace(/^An unexpected error occurred invoking '[^']*' on the server\.\s*/, "")
      .replace(/^HubException:\s*/, "")
      .trim();
    if (!message) return { text: "The server could not take your question. Please try again in a moment.", connectivity: false };
    if (/connection being closed|not in the 'Connected' State|connection was stopped/i.test(message)) {
      return {
        text: "The connection dropped before the server confirmed your question. Send it again once the status says Connected.",
        connectivity: true,
      };
    }
    return { text: message, connectivity: false };
  }

  async function submit(rawQuery, fromBox) {
    const query = String(rawQuery).trim();
    if (!connection || connectionState !== "connected") {
      showError("Not connected to the server right now. Your question is still here: send it once the status says Connected.", true);
      if (connectionState === "disconnected") wake();
      return;
    }
    if (inFlight.has(query)) return;
    inFlight.add(query);
    const gen = generation;
    const conn = connection;
    try {
      const apiKey = (ui.apiKey.value || "").trim();
      const result = await conn.invoke("SubmitQuery", { query, apiKey });
      if (gen !== generation) return; // "New conversation" was pressed meanwhile
      if (!result || typeof result.taskId !== "string" || !result.taskId) {
        throw new Error("The server accepted the question but sent no task id. Please reload the page.");
      }
      clearError();
      withAutoScroll(() => {
        if (!turns.has(result.taskId)) {
          const turn = createTurn(result.taskId, query);
          applySubmitResult(turn, result);
          flushBuffered(turn);
        }
      }, true);
      if (fromBox && ui.query.value.trim() === query) {
        ui.query.value = "";
        autoGrow();
      }
    } catch (err) {
      if (gen !== generation) return;
      const { text, connectivity } = errorMessage(err);
      showError(text, connectivity);
    } finally {
      inFlight.delete(query);
    }
  }

  function submitFromBox() {
    submit(ui.query.value, true);
    ui.query.focus();
  }

  function autoGrow() {
    const box = ui.query;
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight + 2, 240)}px`;
  }

  // ---------------------------------------------------------------- wiring

  function wireUi() {
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitFromBox();
    });

    ui.query.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
      event.preventDefault();
      submitFromBox();
    });
    ui.query.addEventListener("input", autoGrow);

    ui.apiKey.value = storageGet(API_KEY_KEY) || "";
    ui.apiKey.addEventListener("input", () => storageSet(API_KEY_KEY, ui.apiKey.value.trim()));

    ui.toggleKey.addEventListener("click", () => {
      const show = ui.apiKey.type === "password";
      ui.apiKey.type = show ? "text" : "password";
      ui.toggleKey.textContent = show ? "Hide" : "Show";
      ui.toggleKey.setAttribute("aria-label", show ? "Hide the API key" : "Show the API key");
    });

    ui.newSession.addEventListener("click", () => {
      sessionId = null;
      storageSet(SESSION_KEY, null);
      clearConversation();
      clearError();
      ui.query.focus();
      if (typeof signalR !== "undefined") restartConnection();
    });

    window.addEventListener("online", wake);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") wake();
    });
  }

  function boot() {
    wireUi();
    if (typeof signalR === "undefined") {
      setConnectionState("disconnected");
      showError("The chat client could not be loaded. Please reload the page.", true);
      return;
    }
    connection = createConnection();
    setConnectionState("connecting");
    startLoop();
  }

  boot();
})();
