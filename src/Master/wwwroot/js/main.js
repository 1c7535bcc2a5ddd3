// AiSystem chat page: plain ES modules, no build step, no framework. Wires the conversation's rules
// (conversation.js, alternates.js) to the hub connection (connection.js), to the screen (render.js, markdown.js,
// sidebar.js) and to this browser's list of conversations (conversations.js), and owns the page's own controls: the
// composer and its Stop, the model picker, the API key, the theme, switching, "New conversation", "Delete
// conversation" and "Export".

import { Conversation, requestOf } from "./conversation.js";
import { Selection, lineOf, actionsOf, replacementOf } from "./alternates.js";
import { createConnection, deleteSessionAt } from "./connection.js";
import { createConversationView } from "./render.js";
import { createMarkdown } from "./markdown.js";
import { createSidebar } from "./sidebar.js";
import { ConversationStore, CURRENT_KEY, TOKEN_KEY, LIST_KEY, UNTITLED } from "./conversations.js";
import { allowedModels, showsPicker, chosenModel, modelToSend } from "./models.js";
import { conversationMarkdown, exportFileName } from "./export.js";

const HUB_PATH = "/hubs/chat";
const API_KEY_KEY = "aisystem.apiKey";
const THEME_KEY = "aisystem.theme";
const MODEL_KEY = "aisystem.model";
const THEMES = ["auto", "light", "dark"];
const THEME_LABEL = { auto: "follows the system", light: "light", dark: "dark" };
/** A submit that timed out on a live connection is sent again after this. */
const RESEND_DELAY_MS = 1000;
/** The list's "5 min ago" is redrawn this often. */
const LIST_REFRESH_MS = 30000;
const HINT = "Enter sends · Shift+Enter adds a new line";
const HINT_OPEN = "Enter sends · Esc stops the answer being written";

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
  deleteName: byId("delete-dialog-name"),
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
  help: byId("query-help"),
  modelPicker: byId("model-picker"),
  model: byId("model"),
  exportButton: byId("export"),
  currentTitle: byId("current-title"),
  sidebar: byId("sidebar"),
  list: byId("conversation-list"),
  sidebarToggle: byId("sidebar-toggle"),
  sidebarClose: byId("sidebar-close"),
  backdrop: byId("sidebar-backdrop"),
  main: byId("main-column"),
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

const store = new ConversationStore({ storage: { get: storageGet, set: storageSet } });

// ------------------------------------------------------------------ state

/** The conversation on screen. Switching makes a new one: a late reply of a call made for the old one finds it replaced. */
let conversation = new Conversation();
let selection = new Selection();
let sessionId = storageGet(CURRENT_KEY) || null;
let resumeToken = storageGet(TOKEN_KEY) || null;
let connection = null;
/** SessionStarted arrived on the current connection: questions can be sent. */
let sessionReady = false;
let resendTimer = 0;
/** A DeleteSession call is under way: questions wait (they go into the new session), the button says so. */
let deleting = false;
/** The connection dropped during a DeleteSession call: whether it happened is told by the next SessionStarted. */
let deletionUnknown = false;
/** Conversations being deleted over a short-lived connection of their own. */
const deletingOthers = new Set();
/** Which conversation the delete dialog is about. */
let deleteTarget = null;
/** The models SessionStarted allowed, and the one the user picked (remembered in localStorage). */
let models = [];
let modelChoice = storageGet(MODEL_KEY);

const online = () => !!connection && sessionReady && connection.connected && !deleting;

const view = createConversationView({
  ui,
  renderMarkdown: createMarkdown({ marked: window.marked, DOMPurify: window.DOMPurify }),
  online,
  onAction,
});

const sidebar = createSidebar({
  ui: { sidebar: ui.sidebar, list: ui.list, toggle: ui.sidebarToggle, close: ui.sidebarClose, backdrop: ui.backdrop, main: ui.main },
  onOpen: switchTo,
  onRename: rename,
  onDelete: confirmDeletion,
});

function hubUrlFor(id, token) {
  // Absolute URL: HubConnection.baseUrl (set before reconnects) is not resolved by the client.
  const url = new URL(HUB_PATH, window.location.href);
  if (id) url.searchParams.set("session", id);
  if (id && token) url.searchParams.set("token", token);
  return url.toString();
}

const hubUrl = () => hubUrlFor(sessionId, resumeToken);

// ------------------------------------------------------------------ drawing

/** Draws these turns, then puts every turn in its place and brings the controls that depend on them up to date. */
function redraw(turns, force = false) {
  view.show(turns, force);
  const line = lineOf(conversation.turns, selection);
  view.layout(line, (turn, chain) => actionsOf(turn, chain, line));
  refreshComposer();
  ui.exportButton.disabled = conversation.size === 0;
}

/** The Send button is Stop while a question of this conversation is open. */
function refreshComposer() {
  const target = conversation.stopTarget();
  const stopping = !!(target && target.stop && target.stop.wanted);
  const mode = target ? "stop" : "send";
  if (ui.send.dataset.mode !== mode || ui.send.dataset.stopping !== String(stopping)) {
    ui.send.dataset.mode = mode;
    ui.send.dataset.stopping = String(stopping);
    ui.send.textContent = !target ? "Send" : stopping ? "Stopping…" : "Stop";
    if (target) ui.send.setAttribute("aria-label", stopping ? "Stopping the answer" : "Stop the answer being written (Esc)");
    else ui.send.removeAttribute("aria-label");
    ui.send.classList.toggle("button-stop", !!target);
    ui.help.textContent = target ? HINT_OPEN : HINT;
  }
  ui.send.disabled = !connection || stopping;
}

function firstQuestion() {
  const first = lineOf(conversation.turns, selection).chains[0];
  return first ? first.turns[0].query : "";
}

function currentTitle() {
  const entry = sessionId ? store.get(sessionId) : null;
  return (entry && entry.title) || UNTITLED;
}

function renderList() {
  sidebar.render(store.list(), sessionId, deletingOthers);
  const title = currentTitle();
  if (ui.currentTitle.textContent !== title) ui.currentTitle.textContent = title;
}

/** Something happened in the current conversation: it is listed (titled by its first question) and moves up. */
function noteActivity(at = Date.now()) {
  if (!sessionId) return;
  store.upsert(sessionId, { resumeToken: resumeToken || "", title: firstQuestion(), lastActivity: at });
  renderList();
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

/** The events of the current connection only (connection.js drops those of a connection it replaced). */
function onEvent(name, payload) {
  if (name === "SessionStarted") {
    sessionStarted(payload);
    return;
  }
  if (name === "SessionDeleted") {
    // The last event of the deleted conversation on this connection: whatever comes after it is the new session's.
    forgetConversation(deleting ? "" : "This conversation was deleted in another tab or window.");
    return;
  }
  const turn = conversation.apply(name, payload);
  redraw(turn);
  if (turn && (name === "TaskAccepted" || name === "AiResponse" || name === "TaskFailed" || name === "TaskCancelled")) noteActivity();
}

function sessionStarted(payload) {
  // Nothing to resume after a deletion whose answer was lost with the connection: it did happen.
  if (deletionUnknown && payload) {
    if (payload.resumed === true) showNotice("The conversation was not deleted: the server still has it.", "error");
    else forgetConversation("The conversation was deleted.");
  }
  deletionUnknown = false;
  const started = conversation.sessionStarted(payload);
  if (!started) return;
  const requested = sessionId;
  sessionId = started.sessionId;
  storageSet(CURRENT_KEY, sessionId);
  if (typeof payload.resumeToken === "string" && payload.resumeToken) {
    resumeToken = payload.resumeToken;
    storageSet(TOKEN_KEY, resumeToken);
  }
  // The conversation asked for cannot be resumed (a new id came instead): its entry leads nowhere any more.
  if (requested && requested !== sessionId) store.remove(requested);
  const history = Array.isArray(payload.history) ? payload.history : [];
  const newest = history.reduce((at, item) => Math.max(at, Number(item && item.timestamp) || 0), 0);
  const known = store.get(sessionId);
  store.upsert(sessionId, {
    resumeToken: resumeToken || "",
    title: "",
    lastActivity: known ? newest || undefined : newest || Date.now(),
  });
  applyModels(payload.models);
  sessionReady = true;
  redraw(started.changed);
  // The title from the first question, once the history has it (the turns are drawn by now).
  if (conversation.size > 0) store.upsert(sessionId, { title: firstQuestion() });
  renderList();
  view.refreshStatus();
  refreshDeleteButton();
  sendPending();
}

/** Clears what the server no longer has, keeping this page's questions it never confirmed (conversation.js). */
function forgetConversation(notice) {
  const kept = conversation.sessionDeleted();
  selection.clear();
  view.clear();
  redraw(kept);
  if (sessionId && store.get(sessionId)) store.rename(sessionId, "");
  renderList();
  showNotice(notice);
}

/** Sends every question of this page that the server has not confirmed, under its own id, and every Stop due. */
function sendPending() {
  if (!online()) return;
  for (const turn of conversation.toSubmit()) send(turn);
  for (const turn of conversation.toCancel()) cancel(turn);
}

async function send(turn) {
  const conv = conversation;
  const token = conv.submitStarted(turn.taskId);
  redraw(turn);
  try {
    const result = await connection.submit(requestOf(turn, ui.apiKey.value));
    if (conv !== conversation) return; // the page is on another conversation now
    redraw(conv.submitSucceeded(turn.taskId, token, result));
    // Stop was pressed while the call was under way: now that the server has the question, it can be stopped.
    if (online()) for (const t of conv.toCancel()) cancel(t);
  } catch (err) {
    if (conv !== conversation) return;
    const failed = conv.submitFailed(turn.taskId, token, { refused: err.refused === true, message: err.message });
    redraw(failed);
    // The connection looked fine but the call got no answer: try again soon (a dropped connection resends on its own).
    if (failed && failed.submit.needed && online() && !resendTimer) {
      resendTimer = setTimeout(() => {
        resendTimer = 0;
        sendPending();
      }, RESEND_DELAY_MS);
    }
  }
}

async function cancel(turn) {
  const conv = conversation;
  redraw(conv.cancelStarted(turn.taskId));
  try {
    const result = await connection.cancel(turn.taskId);
    if (conv !== conversation) return;
    redraw(conv.cancelSucceeded(turn.taskId, result));
    noteActivity();
  } catch (err) {
    if (conv !== conversation) return;
    // Refused: the server's reason, and the question goes on. Lost with the connection: made again once it is back.
    redraw(conv.cancelFailed(turn.taskId, { refused: err.refused === true }));
    if (err.refused) showNotice(err.message, "error");
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

/** The model a new question asks for: the picker's choice when there is one, else none (the server's default). */
const currentModel = () => modelToSend(models, chosenModel(models, modelChoice));

/** SessionStarted's models: a picker with more than one, none otherwise (an older server sends no list). */
function applyModels(list) {
  models = allowedModels(list);
  ui.modelPicker.hidden = !showsPicker(models);
  if (ui.modelPicker.hidden) return;
  const options = Array.from(ui.model.options, (o) => o.value);
  if (options.join("\n") !== models.join("\n")) {
    ui.model.replaceChildren(...models.map((m, i) => {
      const option = document.createElement("option");
      option.value = m;
      option.textContent = i === 0 ? `${m} (default)` : m;
      return option;
    }));
  }
  ui.model.value = chosenModel(models, modelChoice);
}

/** The delete dialog, for the current conversation or another one of the list (the browser's confirm without it). */
function confirmDeletion(id = sessionId) {
  if (!id) return;
  deleteTarget = id;
  const entry = store.get(id);
  ui.deleteName.textContent = `“${(entry && entry.title) || UNTITLED}”`;
  const dialog = ui.deleteDialog;
  if (typeof dialog.showModal !== "function") {
    if (window.confirm("Delete this conversation? Its questions and answers are removed from the server, in every tab. This cannot be undone.")) deleteChosen();
    return;
  }
  dialog.returnValue = "";
  dialog.showModal();
}

function deleteChosen() {
  const id = deleteTarget;
  deleteTarget = null;
  if (id && id === sessionId) deleteConversation();
  else if (id) deleteOther(id);
}

async function deleteConversation() {
  if (!connection || deleting) return;
  deleting = true;
  showNotice("");
  refreshDeleteButton();
  view.refreshStatus();
  try {
    const deleted = sessionId;
    await connection.deleteSession();
    store.remove(deleted);
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
    renderList();
    sendPending();
    ui.query.focus();
  }
}

/** Another conversation of the list: deleted over a short-lived connection of its own, then taken off the list. */
async function deleteOther(id) {
  const entry = store.get(id);
  if (!entry || deletingOthers.has(id)) return;
  if (typeof window.signalR === "undefined") return;
  deletingOthers.add(id);
  renderList();
  try {
    await deleteSessionAt({ signalR: window.signalR, hubUrl: hubUrlFor(entry.sessionId, entry.resumeToken), sessionId: id });
    store.remove(id);
    showNotice("The conversation was deleted.");
  } catch (err) {
    showNotice(err.refused ? err.message : "The conversation could not be deleted: the page could not reach the server. Nothing was deleted; try again in a moment.", "error");
  } finally {
    deletingOthers.delete(id);
    renderList();
  }
}

function rename(id, title) {
  store.rename(id, title, id === sessionId ? firstQuestion() : "");
  renderList();
}

/** Leaving the current conversation: one with nothing in it (its history known to be empty) leaves no entry behind. */
function leaveCurrent() {
  if (!sessionId || !sessionReady || conversation.size > 0) return;
  const entry = store.get(sessionId);
  if (entry && !entry.title) store.remove(sessionId);
}

/** A fresh page state for another conversation; the connection is replaced by the caller. */
function resetConversation() {
  conversation = new Conversation();
  selection = new Selection();
  sessionReady = false;
  deletionUnknown = false;
  clearTimeout(resendTimer);
  resendTimer = 0;
  view.clear();
  clearError();
  showNotice("");
  redraw([]);
}

/** Opens another conversation of the list: its own connection (?session=&token=), its history from the server. */
function switchTo(id) {
  if (id === sessionId) {
    sidebar.close();
    ui.query.focus();
    return;
  }
  const entry = store.get(id);
  if (!entry || deleting) return;
  leaveCurrent();
  sessionId = entry.sessionId;
  resumeToken = entry.resumeToken || null;
  storageSet(CURRENT_KEY, sessionId);
  storageSet(TOKEN_KEY, resumeToken);
  resetConversation();
  renderList();
  sidebar.close();
  ui.query.focus();
  if (connection) connection.restart();
}

function newConversation() {
  if (deleting) return;
  leaveCurrent();
  sessionId = null;
  resumeToken = null;
  storageSet(CURRENT_KEY, null);
  storageSet(TOKEN_KEY, null);
  resetConversation();
  renderList();
  sidebar.close();
  ui.query.focus();
  if (connection) connection.restart();
}

function exportConversation() {
  const line = lineOf(conversation.turns, selection);
  const now = Date.now();
  const markdown = conversationMarkdown({ title: currentTitle(), turns: line.chains.map((c) => c.shown), exportedAt: now });
  const url = URL.createObjectURL(new Blob([markdown], { type: "text/markdown;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = exportFileName(now);
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Stop: the newest open question of this conversation (one never sent is simply taken back into the box). */
function stopAnswer() {
  const target = conversation.stopTarget();
  if (!target) return false;
  const stopped = conversation.stop(target.taskId);
  if (!stopped) return false;
  if (stopped.withdrawn != null) {
    view.remove(target.taskId);
    if (!ui.query.value.trim()) {
      ui.query.value = stopped.withdrawn;
      autoGrow();
    }
    redraw([]);
  } else {
    redraw(stopped.turn);
    sendPending();
    if (!online() && connection) connection.wake();
  }
  return true;
}

function submitFromBox() {
  ui.query.focus();
  if (!connection) return; // the chat client did not load (the error says so)
  const turn = conversation.ask(ui.query.value, { model: currentModel() });
  if (!turn) {
    showError("The question is empty. Type a question and send it again.");
    return;
  }
  clearError();
  showNotice("");
  ui.query.value = "";
  autoGrow();
  redraw(turn, true);
  noteActivity();
  sendPending();
  if (!online()) connection.wake();
}

/** Asks again in the place of the conversation's last turn: the same question (regenerate) or an edited one. */
function replaceLast(taskId, text) {
  const replacement = replacementOf(lineOf(conversation.turns, selection), taskId, text);
  if (!replacement) return false;
  const turn = conversation.ask(replacement.query, { replaces: replacement.replaces, model: currentModel() });
  if (!turn) return false;
  showNotice("");
  redraw(turn, true);
  noteActivity();
  return true;
}

function onAction(action, taskId, arg) {
  switch (action) {
    case "ask-again": {
      const turn = conversation.askAgain(taskId);
      if (turn) turn.model = currentModel();
      redraw(turn, true);
      break;
    }
    case "send-again":
      redraw(conversation.sendAgain(taskId));
      break;
    case "edit": {
      const text = conversation.withdraw(taskId);
      if (text == null) return;
      view.remove(taskId);
      redraw([]);
      ui.query.value = text;
      autoGrow();
      ui.query.focus();
      return;
    }
    case "regenerate":
      replaceLast(taskId, null);
      break;
    case "revise":
      view.startEdit(taskId);
      return;
    case "revise-send":
      if (replaceLast(taskId, arg)) {
        view.endEdit(taskId);
        ui.query.focus();
      }
      break;
    case "pager": {
      const chain = lineOf(conversation.turns, selection).chains.find((c) => c.turns.some((t) => t.taskId === taskId));
      if (!chain) return;
      const shown = selection.step(chain, arg);
      redraw([]);
      if (shown) view.focusPager(shown.taskId, arg);
      return;
    }
    default:
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
    if (ui.send.dataset.mode === "stop") stopAnswer();
    else submitFromBox();
  });
  ui.query.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submitFromBox();
  });
  ui.query.addEventListener("input", autoGrow);
  // Esc stops the answer being written, unless something nearer took it (a dialog, the drawer, an edit).
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || event.isComposing) return;
    if (ui.deleteDialog.open || sidebar.open) return;
    if (stopAnswer()) event.preventDefault();
  });

  ui.model.addEventListener("change", () => {
    modelChoice = ui.model.value;
    storageSet(MODEL_KEY, modelChoice);
  });

  ui.apiKey.value = storageGet(API_KEY_KEY) || "";
  ui.apiKey.addEventListener("input", () => storageSet(API_KEY_KEY, ui.apiKey.value.trim()));
  ui.toggleKey.addEventListener("click", () => {
    const show = ui.apiKey.type === "password";
    ui.apiKey.type = show ? "text" : "password";
    ui.toggleKey.textContent = show ? "Hide" : "Show";
    ui.toggleKey.setAttribute("aria-label", show ? "Hide the API key" : "Show the API key");
  });

  ui.newSession.addEventListener("click", newConversation);
  ui.exportButton.addEventListener("click", exportConversation);

  ui.deleteSession.addEventListener("click", () => confirmDeletion(sessionId));
  ui.deleteDialog.addEventListener("close", () => {
    if (ui.deleteDialog.returnValue === "delete") {
      deleteChosen();
      return;
    }
    const other = deleteTarget && deleteTarget !== sessionId
      ? Array.from(ui.list.querySelectorAll("li")).find((li) => li.dataset.sessionId === deleteTarget) : null;
    deleteTarget = null;
    (other ? other.querySelector('[data-testid="conversation-delete"]') : ui.deleteSession).focus();
  });

  // Another tab of this browser changed the list (a new conversation, a rename, a deletion).
  window.addEventListener("storage", (event) => {
    if (event.key === LIST_KEY || event.key === null) renderList();
  });
  setInterval(renderList, LIST_REFRESH_MS);

  const wake = () => connection && connection.wake();
  window.addEventListener("online", wake);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") wake();
  });
}

function boot() {
  store.migrate();
  wireUi();
  renderList();
  redraw([]);
  if (typeof window.signalR === "undefined") {
    onState("disconnected");
    showError("The chat client could not be loaded. Please reload the page.");
    return;
  }
  connection = createConnection({ signalR: window.signalR, hubUrl, onEvent, onState });
  refreshComposer(); // questions asked before the connection is up are sent once it is
  connection.start();
}

boot();
