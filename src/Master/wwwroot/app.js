// AiSystem chat page: plain ES2020, no build step, no framework.
// Talks to the master's SignalR hub /hubs/chat (shared PROTOCOL.md §3).
// Questions and statuses are shown with textContent, never as HTML. Answers are Markdown: rendered by marked with
// raw HTML escaped, then sanitized by DOMPurify (no scripts, no event handlers, no javascript: links, no images).
(() => {
  "use strict";

  const HUB_PATH = "/hubs/chat";
  const SESSION_KEY = "aisystem.sessionId";
  const API_KEY_KEY = "aisystem.apiKey";
  const THEME_KEY = "aisystem.theme";
  const THEMES = ["auto", "light", "dark"];
  const THEME_LABEL = { auto: "follows the system", light: "light", dark: "dark" };
  // Streamed text is drawn at most this often per answer.
  const RENDER_INTERVAL_MS = 40;

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

  const BANNER_TEXT = {
    reconnecting: "Connection lost — reconnecting… Your conversation is kept on the server; answers written meanwhile appear when the page is back.",
    disconnected: "Disconnected from the server. The page keeps trying to reconnect on its own.",
  };

  const TERMINAL = new Set(["answered", "failed"]);

  const byId = (id) => document.getElementById(id);
  const ui = {
    state: byId("connection-state"),
    banner: byId("connection-banner"),
    theme: byId("theme-toggle"),
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
  /** taskId -> { firstAt, events: [{ name, payload }] } */
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
    const banner = BANNER_TEXT[state] || "";
    if (ui.banner.textContent !== banner) ui.banner.textContent = banner;
    ui.banner.hidden = !banner;
    ui.banner.dataset.state = state;
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
    on("AiResponseChunk", (p) => routeEvent("AiResponseChunk", p));
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
    if (isNew) {
      turn = createTurn(item.taskId, typeof item.query === "string" ? item.query : "");
      const asked = Number(item.timestamp);
      if (Number.isFinite(asked) && asked > 0 && asked <= Date.now()) turn.startedAt = asked;
    }
    if (item.error) {
      applyFailed(turn, { error: String(item.error), retryable: item.retryable === true });
    } else if (typeof item.response === "string" && item.response !== "") {
      applyResponse(turn, item);
    } else if (typeof item.partial === "string" && item.partial !== "" && !TERMINAL.has(turn.state)) {
      // Resumed mid-answer: the server's text so far replaces ours; later chunks continue from it.
      turn.streamed = item.partial;
      showStreaming(turn);
    } else if (isNew) {
      setStatus(turn, "pending", "Waiting for an update…");
    }
    if (isNew) flushBuffered(turn);
  }

  function routeEvent(name, payload) {
    if (!payload || typeof payload.taskId !== "string" || !payload.taskId) return;
    withAutoScroll(() => {
      let turn = turns.get(payload.taskId);
      if (!turn && name === "AiResponse" && typeof payload.query === "string") {
        // An answer for a question this page has not seen (another tab of the same session,
        // or one whose SubmitQuery reply has not come back yet): it carries its query.
        turn = createTurn(payload.taskId, payload.query);
        flushBuffered(turn);
      }
      if (turn) applyEvent(turn, name, payload);
      else bufferEvent(name, payload);
    }, false);
  }

  function applyEvent(turn, name, payload) {
    switch (name) {
      case "TaskQueued":
        applyQueued(turn, payload.position);
        break;
      case "TaskAssigned":
        applyAssigned(turn, payload.workerId, payload.attempt);
        break;
      case "AiResponseChunk":
        applyChunk(turn, payload);
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

  function bufferEvent(name, payload) {
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
    entry.events.push({ name, payload });
  }

  function flushBuffered(turn) {
    const entry = buffered.get(turn.taskId);
    if (!entry) return;
    buffered.delete(turn.taskId);
    for (const event of entry.events) applyEvent(turn, event.name, event.payload);
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
    answer.setAttribute("aria-busy", "false");
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
      startedAt: Date.now(),
      attempt: 0,
      workerId: "",
      streamed: "",
      renderTimer: 0,
    };
    turns.set(taskId, turn);
    ensureTicker();
    return turn;
  }

  function setStatus(turn, state, text) {
    turn.state = state;
    turn.el.dataset.state = state;
    if (turn.status.textContent !== text) turn.status.textContent = text;
    turn.answer.setAttribute("aria-busy", state === "streaming" ? "true" : "false");
    if (TERMINAL.has(state)) turn.elapsed.textContent = "";
    else updateElapsed(turn);
  }

  function applySubmitResult(turn, result) {
    if (result.status === "queued") {
      applyQueued(turn, result.position);
    } else if (result.status === "assigned") {
      applyAssigned(turn, null, 1);
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

  function applyAssigned(turn, workerId, attempt) {
    if (TERMINAL.has(turn.state)) return;
    const n = Number(attempt) || 1;
    if (n < turn.attempt) return; // a late notice of an earlier attempt
    if (workerId) turn.workerId = String(workerId);
    if (n > turn.attempt && turn.streamed) {
      // The task went to another worker: its answer starts over.
      turn.streamed = "";
      turn.answer.replaceChildren();
      turn.answer.classList.remove("markdown");
    }
    turn.attempt = n;
    if (turn.state === "streaming" && turn.streamed) return;
    setStatus(turn, "assigned", turn.workerId ? `${turn.workerId} is working on it…` : "A worker is working on it…");
  }

  /** A piece of the answer as the worker writes it: replaces the text from payload.offset on. */
  function applyChunk(turn, payload) {
    if (TERMINAL.has(turn.state)) return;
    const attempt = Number(payload.attempt) || 0;
    const offset = Number(payload.offset);
    const text = payload.text == null ? "" : String(payload.text);
    if (attempt < turn.attempt) return; // an earlier attempt's late text
    if (attempt > turn.attempt) {
      if (turn.attempt > 0) turn.streamed = ""; // a new attempt we had not heard of yet
      turn.attempt = attempt;
    }
    if (!Number.isInteger(offset) || offset < 0 || offset > turn.streamed.length) return; // a gap: wait for the answer
    turn.streamed = turn.streamed.slice(0, offset) + text;
    showStreaming(turn);
  }

  function showStreaming(turn) {
    setStatus(turn, "streaming", turn.workerId ? `${turn.workerId} is writing…` : "The answer is being written…");
    if (turn.renderTimer) return;
    turn.renderTimer = setTimeout(() => {
      turn.renderTimer = 0;
      if (turn.state === "streaming") withAutoScroll(() => renderMarkdown(turn.answer, turn.streamed), false);
    }, RENDER_INTERVAL_MS);
  }

  function applyResponse(turn, payload) {
    if (turn.state === "answered") return; // the server sends one answer per task; be safe anyway
    if (turn.renderTimer) {
      clearTimeout(turn.renderTimer);
      turn.renderTimer = 0;
    }
    turn.streamed = "";
    setStatus(turn, "answered", "");
    renderMarkdown(turn.answer, payload.response == null ? "" : String(payload.response));
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
    if (turn.query && turn.query.trim()) {
      const retry = element("button", "button button-secondary button-small retry");
      retry.type = "button";
      retry.textContent = "Ask again";
      retry.setAttribute("aria-label", payload.retryable === true ? "Ask this question again" : "Ask this question again (for example after fixing the API key)");
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
    const seconds = Math.max(0, Math.floor((Date.now() - turn.startedAt) / 1000));
    const text = turn.attempt > 1 ? `${seconds} s · attempt ${turn.attempt}` : `${seconds} s`;
    if (turn.elapsed.textContent !== text) turn.elapsed.textContent = text;
  }

  function ensureTicker() {
    if (ticker) return;
    ticker = setInterval(() => {
      let any = false;
      for (const turn of turns.values()) {
        if (!TERMINAL.has(turn.state)) {
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
    for (const turn of turns.values()) if (turn.renderTimer) clearTimeout(turn.renderTimer);
    turns.clear();
    buffered.clear();
    for (const el of Array.from(ui.log.querySelectorAll(".turn"))) el.remove();
    ui.emptyHint.hidden = false;
  }

  // ---------------------------------------------------------------- rendering answers

  const PURIFY_CONFIG = {
    USE_PROFILES: { html: true },
    // No images (they would load from anywhere: tracking pixels), no embedded or interactive content.
    FORBID_TAGS: ["img", "picture", "source", "video", "audio", "iframe", "object", "embed", "svg", "math", "style",
      "form", "input", "button", "textarea", "select", "dialog"],
    FORBID_ATTR: ["style", "id", "name"],
    RETURN_DOM_FRAGMENT: true,
  };

  /** marked with raw HTML shown as text (what models write as HTML is usually meant as an example). */
  let markdown = null;

  function setUpMarkdown() {
    if (!window.marked || typeof window.marked.Marked !== "function" || !window.DOMPurify || !window.DOMPurify.isSupported) return;
    const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    markdown = new window.marked.Marked({
      async: false,
      gfm: true,
      breaks: false,
      renderer: { html: (token) => escapeHtml(token.text || "") },
    });
    window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.nodeName === "A") {
        // Whatever survived the URL check opens elsewhere and learns nothing about this page.
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
  }

  /** Renders Markdown into el, sanitized; without the libraries the text is shown as it is. */
  function renderMarkdown(el, text) {
    if (!markdown) {
      el.classList.remove("markdown");
      el.textContent = text;
      return;
    }
    let fragment;
    try {
      fragment = window.DOMPurify.sanitize(markdown.parse(text), PURIFY_CONFIG);
    } catch {
      el.classList.remove("markdown");
      el.textContent = text;
      return;
    }
    for (const pre of Array.from(fragment.querySelectorAll("pre"))) decorateCodeBlock(pre);
    el.classList.add("markdown");
    el.replaceChildren(fragment);
  }

  function decorateCodeBlock(pre) {
    const code = pre.querySelector("code");
    const match = code && /(?:^|\s)language-([\w#+.-]{1,30})/.exec(code.className);
    const language = match ? match[1] : "";
    const block = element("div", "code-block");
    const head = element("div", "code-head");
    const label = element("span", "code-lang");
    label.textContent = language || "code";
    const copy = element("button", "button button-secondary button-small copy-code");
    copy.type = "button";
    copy.textContent = "Copy";
    copy.dataset.label = language ? `Copy the ${language} code` : "Copy the code";
    copy.setAttribute("aria-label", copy.dataset.label);
    head.append(label, copy);
    pre.replaceWith(block);
    block.append(head, pre);
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        // A browser that neither grants nor denies (no focus, a pending prompt) must not leave the button hanging.
        await Promise.race([
          navigator.clipboard.writeText(text),
          new Promise((_, reject) => setTimeout(() => reject(new Error("clipboard timeout")), 1500)),
        ]);
        return true;
      } catch {
        // denied or undecided: try the old way
      }
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }

  async function onCopyClick(button) {
    const pre = button.closest(".code-block")?.querySelector("pre");
    if (!pre) return;
    const ok = await copyText(pre.textContent || "");
    const label = button.dataset.label || "Copy the code";
    button.textContent = ok ? "Copied" : "Copy failed";
    button.dataset.copied = ok ? "true" : "false";
    button.setAttribute("aria-label", ok ? "Copied to the clipboard" : "Could not copy: select the code and copy it by hand");
    setTimeout(() => {
      button.textContent = "Copy";
      delete button.dataset.copied;
      button.setAttribute("aria-label", label);
    }, 2000);
  }

  // ---------------------------------------------------------------- theme

  function applyTheme(mode) {
    const theme = THEMES.includes(mode) ? mode : "auto";
    if (theme === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    ui.theme.textContent = `Theme: ${theme}`;
    ui.theme.setAttribute("aria-label", `Colour theme: ${THEME_LABEL[theme]}. Change it`);
    return theme;
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
    let theme = applyTheme(storageGet(THEME_KEY) || "auto");
    ui.theme.addEventListener("click", () => {
      theme = applyTheme(THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length]);
      storageSet(THEME_KEY, theme === "auto" ? null : theme);
    });

    ui.log.addEventListener("click", (event) => {
      const button = event.target instanceof Element ? event.target.closest(".copy-code") : null;
      if (button) onCopyClick(button);
    });

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
    setUpMarkdown();
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
