// AiSystem chat page: plain ES modules, no build step, no framework. Wires the conversation's rules
// (conversation.js) to the hub connection (connection.js) and to the screen (render.js, markdown.js), and owns the
// page's own controls: the composer, the API key, the theme, "New conversation", "Delete conversation".

import { Conversation } from "./conversation.js";
import { createConnection } from "./connection.js";
import { createConversationView } from "./render.js";
import { createMarkdown } from "./markdown.js";

const HUB_PATH = "/hubs/chat";
const SESSION_KEY = "aisystem.sessionId";
/** The session's resume token (SessionStarted.resumeToken): the id alone does not resume a session. */
const TOKEN_KEY = "aisystem.resumeToken";
const API_KEY_KEY = "aisystem.apiKey";
const THEME_KEY = "aisystem.theme";
const THEMES = ["auto", "light", "dark"];
const THEME_LABEL = { auto: "follows the system", light: "light", dark: "dark" };
/** A submit that timed out on a live connection is sent again after this. */
const RESEND_DELAY_MS = 1000;

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

const byId = (id) => document.getElementById(id);
const ui = {
  state: byId("connection-state"),
  banner: byId("connection-banner"),
  theme: byId("theme-toggle"),
  newSession: byId("new-session"),
  deleteSession: byId("delete-session"),
  deleteDialog: byId("delete-dialog"),
  notice: byId("session-notice"),
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

// ------------------------------------------------------------------ storage

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

// ------------------------------------------------------------------ state

const conversation = new Conversation();
let sessionId = storageGet(SESSION_KEY) || null;
let resumeToken = storageGet(TOKEN_KEY) || null;
let connection = null;
/** SessionStarted arrived on the current connection: questions can be sent. */
let sessionReady = false;
let resendTimer = 0;
/** A DeleteSession call is under way: questions wait (they go into the new session), the button says so. */
let deleting = false;
/** The connection dropped during a DeleteSession call: whether it happened is told by the next SessionStarted. */
let deletionUnknown = false;

const online = () => !!connection && sessionReady && connection.connected && !deleting;

const view = createConversationView({
  ui,
  renderMarkdown: createMarkdown({ marked: window.marked, DOMPurify: window.DOMPurify }),
  online,
  onAction,
});

function hubUrl() {
  // Absolute URL: HubConnection.baseUrl (set before reconnects) is not resolved by the client.
  const url = new URL(HUB_PATH, window.location.href);
  if (sessionId) url.searchParams.set("session", sessionId);
  if (sessionId && resumeToken) url.searchParams.set("token", resumeToken);
  return url.toString();
}

// ------------------------------------------------------------------ the connection and its events

function onState(state) {
  if (state !== "connected") sessionReady = false;
  ui.state.dataset.state = state;
  ui.state.textContent = STATE_TEXT[state];
  const banner = BANNER_TEXT[state] || "";
  if (ui.banner.textContent !== banner) ui.banner.textContent = banner;
  ui.banner.hidden = !banner;
  ui.banner.dataset.state = state;
  view.refreshStatus();
  refreshDeleteButton();
  sendPending();
}

function onEvent(name, payload) {
  if (name === "SessionStarted") {
    // Nothing to resume after a deletion whose answer was lost with the connection: it did happen.
    if (deletionUnknown && payload) {
      if (payload.resumed === true) showNotice("The conversation was not deleted: the server still has it.", "error");
      else forgetConversation("The conversation was deleted.");
    }
    deletionUnknown = false;
    const started = conversation.sessionStarted(payload);
    if (!started) return;
    sessionId = started.sessionId;
    storageSet(SESSION_KEY, sessionId);
    if (payload && typeof payload.resumeToken === "string" && payload.resumeToken) {
      resumeToken = payload.resumeToken;
      storageSet(TOKEN_KEY, resumeToken);
    }
    sessionReady = true;
    view.show(started.changed);
    view.refreshStatus();
    refreshDeleteButton();
    sendPending();
    return;
  }
  if (name === "SessionDeleted") {
    // The last event of the deleted conversation on this connection: whatever comes after it is the new session's.
    forgetConversation(deleting ? "" : "This conversation was deleted in another tab or window.");
    return;
  }
  view.show(conversation.apply(name, payload));
}

/** Clears what the server no longer has, keeping this page's questions it never confirmed (conversation.js). */
function forgetConversation(notice) {
  const kept = conversation.sessionDeleted();
  view.clear();
  view.show(kept);
  showNotice(notice);
}

/** Sends every question of this page that the server has not confirmed, under its own id. */
function sendPending() {
  if (!online()) return;
  for (const turn of conversation.toSubmit()) send(turn);
}

async function send(turn) {
  const token = conversation.submitStarted(turn.taskId);
  view.show(turn);
  const request = { query: turn.query, apiKey: (ui.apiKey.value || "").trim(), taskId: turn.taskId };
  try {
    const result = await connection.submit(request);
    view.show(conversation.submitSucceeded(turn.taskId, token, result));
  } catch (err) {
    const failed = conversation.submitFailed(turn.taskId, token, { refused: err.refused === true, message: err.message });
    view.show(failed);
    // The connection looked fine but the call got no answer: try again soon (a dropped connection resends on its own).
    if (failed && failed.submit.needed && online() && !resendTimer) {
      resendTimer = setTimeout(() => {
        resendTimer = 0;
        sendPending();
      }, RESEND_DELAY_MS);
    }
  }
}

// ------------------------------------------------------------------ the user

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
  ui.query.setAttribute("aria-invalid", "true");
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
  ui.query.removeAttribute("aria-invalid");
}

function showNotice(message, kind = "info") {
  ui.notice.textContent = message || "";
  ui.notice.hidden = !message;
  ui.notice.dataset.kind = kind;
}

function refreshDeleteButton() {
  ui.deleteSession.disabled = deleting || !connection || !sessionReady || !connection.connected;
  ui.deleteSession.textContent = deleting ? "Deleting…" : "Delete conversation";
}

/** "Delete conversation": asks first (a modal dialog; the browser's confirm where there is none). */
function confirmDeletion() {
  const dialog = ui.deleteDialog;
  if (typeof dialog.showModal !== "function") {
    if (window.confirm("Delete this conversation? Its questions and answers are removed from the server, in every tab. This cannot be undone.")) deleteConversation();
    return;
  }
  dialog.returnValue = "";
  dialog.showModal();
}

async function deleteConversation() {
  if (!connection || deleting) return;
  deleting = true;
  showNotice("");
  refreshDeleteButton();
  view.refreshStatus();
  try {
    await connection.deleteSession();
    forgetConversation("The conversation was deleted.");
    // Same session id, new connection: the server starts it empty, and nothing late of the old one can reach the page.
    connection.restart();
  } catch (err) {
    if (err.refused) {
      showNotice(err.message, "error");
    } else {
      deletionUnknown = true;
      showNotice("The connection dropped before the server said whether the conversation was deleted. The page shows what the server has once it is back.", "error");
    }
  } finally {
    deleting = false;
    refreshDeleteButton();
    view.refreshStatus();
    sendPending();
    ui.query.focus();
  }
}

function submitFromBox() {
  ui.query.focus();
  if (!connection) return; // the chat client did not load (the error says so)
  const turn = conversation.ask(ui.query.value);
  if (!turn) {
    showError("The question is empty. Type a question and send it again.");
    return;
  }
  clearError();
  showNotice("");
  ui.query.value = "";
  autoGrow();
  view.show(turn, true);
  sendPending();
  if (!online()) connection.wake();
}

function onAction(action, taskId) {
  if (action === "ask-again") {
    view.show(conversation.askAgain(taskId), true);
  } else if (action === "send-again") {
    view.show(conversation.sendAgain(taskId));
  } else if (action === "edit") {
    const text = conversation.withdraw(taskId);
    if (text == null) return;
    view.remove(taskId);
    ui.query.value = text;
    autoGrow();
    ui.query.focus();
    return;
  }
  sendPending();
}

function autoGrow() {
  const box = ui.query;
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight + 2, 240)}px`;
}

function applyTheme(mode) {
  const theme = THEMES.includes(mode) ? mode : "auto";
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  ui.theme.textContent = `Theme: ${theme}`;
  ui.theme.setAttribute("aria-label", `Colour theme: ${THEME_LABEL[theme]}. Change it`);
  return theme;
}

function wireUi() {
  let theme = applyTheme(storageGet(THEME_KEY) || "auto");
  ui.theme.addEventListener("click", () => {
    theme = applyTheme(THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length]);
    storageSet(THEME_KEY, theme === "auto" ? null : theme);
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
    resumeToken = null;
    storageSet(SESSION_KEY, null);
    storageSet(TOKEN_KEY, null);
    conversation.clear();
    view.clear();
    clearError();
    showNotice("");
    ui.query.focus();
    if (connection) connection.restart();
  });

  ui.deleteSession.addEventListener("click", confirmDeletion);
  ui.deleteDialog.addEventListener("close", () => {
    if (ui.deleteDialog.returnValue === "delete") deleteConversation();
    else ui.deleteSession.focus();
  });

  const wake = () => connection && connection.wake();
  window.addEventListener("online", wake);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") wake();
  });
}

function boot() {
  wireUi();
  if (typeof window.signalR === "undefined") {
    onState("disconnected");
    showError("The chat client could not be loaded. Please reload the page.");
    return;
  }
  connection = createConnection({ signalR: window.signalR, hubUrl, onEvent, onState });
  ui.send.disabled = false; // questions asked before the connection is up are sent once it is
  connection.start();
}

boot();
