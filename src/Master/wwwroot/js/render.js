// The conversation on screen: one <article class="turn"> per turn, drawn from the turn's state (conversation.js).
// Questions, statuses and errors are set with textContent, never as HTML; answers go through markdown.js. Streamed
// text is redrawn at most every RENDER_INTERVAL_MS per answer, and the newest turn stays in view while the reader is
// at the end. Alternates (alternates.js) sit together in the place of their chain; only the one shown is visible,
// with the pager and the turn's buttons under it. The last question can be edited in place.

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
  [Phase.Stopped]: "stopped",
};

/** A turn's buttons: [text, accessible name]. */
export const ACTION_LABELS = {
  "send-again": ["Send again", "Send this question again"],
  edit: ["Edit", "Edit this question in the box and send it from there"],
  "ask-again": ["Ask again", "Ask this question again"],
  regenerate: ["Regenerate", "Write a new answer to this question"],
  revise: ["Edit", "Edit this question and send it again"],
};

/** The status line of a turn. online: a question can be sent right now. */
export function statusText(turn, online) {
  if (turn.stop && turn.stop.wanted && !isTerminal(turn) && turn.phase !== Phase.Refused) return "Stopping…";
  switch (turn.phase) {
    case Phase.Sending:
      if (turn.submit && turn.submit.retrying) {
        return online ? "Sending again…" : "Not confirmed before the connection dropped — it is sent again once the page reconnects…";
      }
      return online ? "Sending…" : "Not sent yet — it is sent once the page is connected…";
    case Phase.Refused:
    case Phase.Failed:
      return turn.error || "";
    case Phase.Stopped:
      return "Stopped";
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

/** "worker · provider · 2.3 s · 12 + 48 tokens" under an answer (the tokens when the worker reported them). */
export function formatMeta(turn) {
  const parts = [];
  if (turn.workerId) parts.push(turn.workerId);
  if (turn.provider) parts.push(turn.provider);
  if (turn.processingTimeMs != null) parts.push(`${(turn.processingTimeMs / 1000).toFixed(1)} s`);
  const tokens = formatTokens(turn.promptTokens, turn.outputTokens);
  if (tokens) parts.push(tokens);
  return parts.join(" · ");
}

/** "12 + 48 tokens" (prompt + output); one of them alone says which; neither: "". */
export function formatTokens(prompt, output) {
  const known = (n) => typeof n === "number" && Number.isFinite(n) && n >= 0;
  if (known(prompt) && known(output)) return `${prompt} + ${output} tokens`;
  if (known(prompt)) return `${prompt} prompt tokens`;
  if (known(output)) return `${output} output tokens`;
  return "";
}

/**
 * @param ui { scroller, log, emptyHint }
 * @param renderMarkdown (el, text) => void
 * @param onAction (action, taskId, arg) => void for the turns' buttons: an action of ACTION_LABELS; "pager" (arg: -1
 *   or +1); "revise-send" (arg: the edited text)
 * @param online () => a question can be sent right now
 */
export function createConversationView({ ui, renderMarkdown, onAction, online }) {
  /** taskId -> { turn, el, question, status, elapsed, answer, meta, foot, shown, timer, edit } */
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
    if (!button || !article || button.disabled) return;
    const taskId = article.dataset.taskId;
    const action = button.dataset.action;
    if (action === "pager") onAction("pager", taskId, Number(button.dataset.delta));
    else if (action === "revise-cancel") stopEdit(taskId);
    else if (action === "revise-send") sendEdit(taskId);
    else onAction(action, taskId);
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
    const foot = element("div", "actions");
    el.dataset.testid = "turn";
    question.dataset.testid = "turn-question";
    status.dataset.testid = "turn-status";
    answer.dataset.testid = "turn-answer";
    meta.dataset.testid = "turn-meta";
    foot.dataset.testid = "turn-actions";
    el.append(question, statusRow, answer, meta, foot);
    // An alternate goes next to the turn it replaces (layout puts every turn in its place); others at the end.
    const replaced = turn.replaces && views.get(turn.replaces);
    if (replaced) replaced.el.after(el);
    else ui.log.append(el);
    ui.emptyHint.hidden = true;
    const view = { turn, el, question, status, elapsed, answer, meta, foot, shown: null, footFor: null, timer: 0, edit: null };
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
    setText(view.meta, turn.phase === Phase.Answered || turn.phase === Phase.Stopped ? formatMeta(turn) : "");
    drawAnswer(view);
    if (!isTerminal(turn) && turn.phase !== Phase.Refused) ensureTicker();
  }

  function drawAnswer(view) {
    const { turn } = view;
    if (turn.phase === Phase.Answered || turn.phase === Phase.Stopped) {
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
      if (!views.has(view.turn.taskId) || view.turn.phase === Phase.Answered || view.turn.phase === Phase.Stopped) return;
      withAutoScroll(() => {
        renderMarkdown(view.answer, view.turn.text);
        view.shown = view.turn.text;
      });
    }, RENDER_INTERVAL_MS);
  }

  /** The row under a shown turn: its pager (alternates) and its buttons. Rebuilt only when what it holds changes. */
  function drawFoot(view, actions, pager) {
    const { turn } = view;
    const labelOf = (action) => action === "ask-again" && !turn.retryable
      ? "Ask this question again (for example after fixing the API key)" : ACTION_LABELS[action][1];
    const key = JSON.stringify([actions.map(labelOf), pager && [pager.label, !!pager.prev, !!pager.next], !!view.edit]);
    if (view.footFor === key) return;
    view.footFor = key;
    view.foot.replaceChildren();
    if (pager) {
      const group = element("div", "pager");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Versions of this question");
      group.dataset.testid = "turn-pager";
      const prev = button("pager", "‹", "Show the previous version", "pager-prev");
      prev.dataset.delta = "-1";
      prev.disabled = !pager.prev;
      const label = element("span", "pager-label");
      label.textContent = pager.label;
      label.dataset.testid = "pager-label";
      const next = button("pager", "›", "Show the next version", "pager-next");
      next.dataset.delta = "1";
      next.disabled = !pager.next;
      group.append(prev, label, next);
      view.foot.append(group);
    }
    if (view.edit) return; // the edit form has its own buttons
    for (const action of actions) view.foot.append(button(action, ACTION_LABELS[action][0], labelOf(action), `turn-${action}`));
  }

  function button(action, text, label, testid) {
    const b = element("button", "button button-secondary button-small retry");
    b.type = "button";
    b.dataset.action = action;
    b.textContent = text;
    b.setAttribute("aria-label", label);
    if (testid) b.dataset.testid = testid;
    return b;
  }

  // ---------------------------------------------------------------- editing the last question in place

  function startEdit(taskId) {
    const view = views.get(taskId);
    if (!view) return;
    if (!view.edit) {
      const form = element("div", "edit-form");
      form.dataset.testid = "edit-form";
      const box = element("textarea", "edit-input");
      box.rows = 2;
      box.value = view.turn.query;
      box.setAttribute("aria-label", "The question, edited");
      box.dataset.testid = "edit-input";
      const error = element("p", "edit-error");
      error.setAttribute("role", "alert");
      error.hidden = true;
      const row = element("div", "edit-actions");
      const cancel = button("revise-cancel", "Cancel", "Cancel the edit", "edit-cancel");
      const send = element("button", "button button-primary button-small");
      send.type = "button";
      send.dataset.action = "revise-send";
      send.dataset.testid = "edit-send";
      send.textContent = "Send edited question";
      row.append(cancel, send);
      form.append(box, error, row);
      box.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
          event.preventDefault();
          event.stopPropagation();
          stopEdit(taskId);
        } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
          event.preventDefault();
          sendEdit(taskId);
        }
      });
      const grow = () => {
        box.style.height = "auto";
        box.style.height = `${Math.min(box.scrollHeight + 2, 240)}px`;
      };
      box.addEventListener("input", grow);
      view.edit = { form, box, error, grow };
      view.question.hidden = true;
      view.question.after(form);
      view.footFor = null;
      drawFoot(view, [], view.pager || null);
      grow();
    }
    view.edit.box.focus();
    view.edit.box.setSelectionRange(view.edit.box.value.length, view.edit.box.value.length);
  }

  function sendEdit(taskId) {
    const view = views.get(taskId);
    if (!view || !view.edit) return;
    const text = view.edit.box.value.trim();
    if (!text) {
      view.edit.error.textContent = "The question is empty. Type a question and send it again.";
      view.edit.error.hidden = false;
      view.edit.box.focus();
      return;
    }
    onAction("revise-send", taskId, text);
  }

  /** Leaves the edit: the question shows again. focus: give the focus back to the turn's Edit button. */
  function stopEdit(taskId, focus = true) {
    const view = views.get(taskId);
    if (!view || !view.edit) return;
    view.edit.form.remove();
    view.edit = null;
    view.question.hidden = false;
    view.footFor = null;
    drawFoot(view, view.actions || [], view.pager || null);
    if (focus) view.foot.querySelector('[data-action="revise"]')?.focus();
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

    /**
     * Puts every turn in its place (line: alternates.js's lineOf): the chains in order, each chain's alternates
     * together, only the shown one visible, with its pager and the buttons actionsOf(turn, chain) gives.
     */
    layout(line, actionsOf) {
      let prev = ui.emptyHint;
      for (const chain of line.chains) {
        for (const turn of chain.turns) {
          const view = views.get(turn.taskId);
          if (!view) continue;
          if (prev.nextElementSibling !== view.el) prev.after(view.el);
          prev = view.el;
          const shown = turn === chain.shown;
          if (view.el.hidden === shown) view.el.hidden = !shown;
          view.pager = shown ? chain.pager : null;
          view.actions = shown ? actionsOf(turn, chain) : [];
          if (!shown && view.edit) stopEdit(turn.taskId, false);
          if (view.edit && !view.actions.includes("revise")) stopEdit(turn.taskId, false); // no longer the last turn
          drawFoot(view, view.actions, view.pager);
        }
      }
    },

    /** Focus on the pager of the shown turn (after paging: the button pressed, or the other one at an end). */
    focusPager(taskId, delta) {
      const view = views.get(taskId);
      if (!view) return;
      const wanted = view.foot.querySelector(delta < 0 ? '[data-testid="pager-prev"]' : '[data-testid="pager-next"]');
      const other = view.foot.querySelector(delta < 0 ? '[data-testid="pager-next"]' : '[data-testid="pager-prev"]');
      (wanted && !wanted.disabled ? wanted : other)?.focus();
    },

    startEdit,

    /** The edit was sent: the form goes (its question's replacement takes the turn's place). */
    endEdit(taskId) {
      stopEdit(taskId, false);
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
