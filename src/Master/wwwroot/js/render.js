// The conversation on screen: one <article class="turn"> per turn, drawn from the turn's state (conversation.js).
// Questions, statuses and errors are set with textContent, never as HTML; answers go through markdown.js. Streamed
// text is redrawn at most every RENDER_INTERVAL_MS per answer, and the newest turn stays in view while the reader is
// at the end.

import { Phase, isTerminal } from "./conversation.js";

const RENDER_INTERVAL_MS = 40;
const NEAR_BOTTOM_PX = 96;

/** The data-state of a turn's article (app.css styles by it). */
const STATE_OF = {
  [Phase.Sending]: "sending",
  [Phase.Refused]: "refused",
  [Phase.Accepted]: "pending",
  [Phase.Queued]: "queued",
  [Phase.Assigned]: "assigned",
  [Phase.Streaming]: "streaming",
  [Phase.Answered]: "answered",
  [Phase.Failed]: "failed",
};

/** The status line of a turn. online: a question can be sent right now. */
export function statusText(turn, online) {
  switch (turn.phase) {
    case Phase.Sending:
      if (turn.submit && turn.submit.retrying) {
        return online ? "Sending again…" : "Not confirmed before the connection dropped — it is sent again once the page reconnects…";
      }
      return online ? "Sending…" : "Not sent yet — it is sent once the page is connected…";
    case Phase.Refused:
    case Phase.Failed:
      return turn.error || "";
    case Phase.Accepted:
      return turn.restored ? "Waiting for an update…" : "Sent — waiting for a worker…";
    case Phase.Queued:
      return turn.position != null ? `Queued — position ${turn.position}` : "Queued";
    case Phase.Assigned:
      return turn.workerId ? `${turn.workerId} is working on it…` : "A worker is working on it…";
    case Phase.Streaming:
      return turn.workerId ? `${turn.workerId} is writing…` : "The answer is being written…";
    default:
      return "";
  }
}

/** "worker · provider · 2.3 s" under an answer. */
export function formatMeta(turn) {
  const parts = [];
  if (turn.workerId) parts.push(turn.workerId);
  if (turn.provider) parts.push(turn.provider);
  if (turn.processingTimeMs != null) parts.push(`${(turn.processingTimeMs / 1000).toFixed(1)} s`);
  return parts.join(" · ");
}

/**
 * @param ui { scroller, log, emptyHint }
 * @param renderMarkdown (el, text) => void
 * @param onAction (action, taskId) => void for the turns' buttons: "ask-again" | "send-again" | "edit"
 * @param online () => a question can be sent right now
 */
export function createConversationView({ ui, renderMarkdown, onAction, online }) {
  /** taskId -> { turn, el, question, status, elapsed, answer, meta, actions, shown, timer } */
  const views = new Map();
  let ticker = 0;

  ui.log.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const copy = target && target.closest(".copy-code");
    if (copy) {
      onCopyClick(copy);
      return;
    }
    const button = target && target.closest("button[data-action]");
    const article = button && button.closest("article.turn");
    if (button && article) onAction(button.dataset.action, article.dataset.taskId);
  });

  function element(tag, className) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    return el;
  }

  function create(turn) {
    const el = element("article", "turn");
    el.dataset.taskId = turn.taskId;
    const question = element("div", "question");
    question.textContent = turn.query;
    const statusRow = element("div", "status-row");
    const status = element("p", "status");
    const elapsed = element("span", "elapsed");
    elapsed.setAttribute("aria-hidden", "true"); // ticks every second: not for the live region
    statusRow.append(status, elapsed);
    const answer = element("div", "answer");
    answer.setAttribute("aria-busy", "false");
    const meta = element("p", "meta");
    const actions = element("div", "actions");
    el.append(question, statusRow, answer, meta, actions);
    ui.log.append(el);
    ui.emptyHint.hidden = true;
    const view = { turn, el, question, status, elapsed, answer, meta, actions, shown: null, actionsFor: "", timer: 0 };
    views.set(turn.taskId, view);
    return view;
  }

  function draw(turn) {
    const view = views.get(turn.taskId) || create(turn);
    view.turn = turn;
    const state = STATE_OF[turn.phase] || "pending";
    if (view.el.dataset.state !== state) view.el.dataset.state = state;
    setText(view.status, statusText(turn, online()));
    view.answer.setAttribute("aria-busy", turn.phase === Phase.Streaming ? "true" : "false");
    updateElapsed(view);
    setText(view.meta, turn.phase === Phase.Answered ? formatMeta(turn) : "");
    drawActions(view);
    drawAnswer(view);
    if (!isTerminal(turn) && turn.phase !== Phase.Refused) ensureTicker();
  }

  function drawAnswer(view) {
    const { turn } = view;
    if (turn.phase === Phase.Answered) {
      clearTimeout(view.timer);
      view.timer = 0;
      if (view.shown !== turn.text) renderMarkdown(view.answer, turn.text);
      view.shown = turn.text;
      return;
    }
    if (turn.text === view.shown) return;
    if (!turn.text) {
      // A new attempt: the answer starts over.
      clearTimeout(view.timer);
      view.timer = 0;
      view.answer.replaceChildren();
      view.answer.classList.remove("markdown");
      view.shown = "";
      return;
    }
    if (view.timer) return;
    view.timer = setTimeout(() => {
      view.timer = 0;
      if (!views.has(view.turn.taskId) || view.turn.phase === Phase.Answered) return;
      withAutoScroll(() => {
        renderMarkdown(view.answer, view.turn.text);
        view.shown = view.turn.text;
      });
    }, RENDER_INTERVAL_MS);
  }

  function drawActions(view) {
    const { turn } = view;
    const kind = turn.phase === Phase.Failed && turn.query.trim() ? `failed:${turn.retryable}` : turn.phase === Phase.Refused ? "refused" : "";
    if (view.actionsFor === kind) return;
    view.actionsFor = kind;
    view.actions.replaceChildren();
    if (kind === "refused") {
      view.actions.append(
        button("send-again", "Send again", "Send this question again"),
        button("edit", "Edit", "Edit this question in the box and send it from there"));
    } else if (kind) {
      view.actions.append(button("ask-again", "Ask again",
        turn.retryable ? "Ask this question again" : "Ask this question again (for example after fixing the API key)"));
    }
  }

  function button(action, text, label) {
    const b = element("button", "button button-secondary button-small retry");
    b.type = "button";
    b.dataset.action = action;
    b.textContent = text;
    b.setAttribute("aria-label", label);
    return b;
  }

  function updateElapsed(view) {
    const { turn } = view;
    if (isTerminal(turn) || turn.phase === Phase.Refused) {
      setText(view.elapsed, "");
      return;
    }
    const seconds = Math.max(0, Math.floor((Date.now() - turn.askedAt) / 1000));
    setText(view.elapsed, turn.attempt > 1 ? `${seconds} s · attempt ${turn.attempt}` : `${seconds} s`);
  }

  function ensureTicker() {
    if (ticker) return;
    ticker = setInterval(() => {
      let any = false;
      for (const view of views.values()) {
        if (isTerminal(view.turn) || view.turn.phase === Phase.Refused) continue;
        updateElapsed(view);
        any = true;
      }
      if (!any) {
        clearInterval(ticker);
        ticker = 0;
      }
    }, 250); // several ticks a second so that the shown count never lags by a whole second
  }

  // ---------------------------------------------------------------- scrolling

  /** The conversation scrolls inside its own box on wide screens and with the page on phones (see app.css). */
  function scrollingElement() {
    const own = window.getComputedStyle(ui.scroller).overflowY;
    return own === "auto" || own === "scroll" ? ui.scroller : document.scrollingElement || document.documentElement;
  }

  /** Runs a DOM change and keeps the newest turn in view if the reader was already at the end (or force). */
  function withAutoScroll(change, force = false) {
    const s = scrollingElement();
    const follow = force || s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
    change();
    if (follow) s.scrollTop = s.scrollHeight;
  }

  return {
    /** Draws these turns (new ones are appended). force: scroll to the end even if the reader was not there. */
    show(turns, force = false) {
      const list = (Array.isArray(turns) ? turns : [turns]).filter(Boolean);
      if (list.length > 0) withAutoScroll(() => list.forEach(draw), force);
    },

    /** Redraws the status of every turn (the connection came or went: what "sending" says depends on it). */
    refreshStatus() {
      for (const view of views.values()) setText(view.status, statusText(view.turn, online()));
    },

    remove(taskId) {
      const view = views.get(taskId);
      if (!view) return;
      clearTimeout(view.timer);
      view.el.remove();
      views.delete(taskId);
      ui.emptyHint.hidden = views.size > 0;
    },

    clear() {
      for (const view of views.values()) {
        clearTimeout(view.timer);
        view.el.remove();
      }
      views.clear();
      ui.emptyHint.hidden = false;
    },
  };
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// ------------------------------------------------------------------ code blocks' Copy buttons

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
