// The conversation's rules as plain state: no DOM, no SignalR (docs/protocol.md §5). Every method takes one thing
// that happened (the user asked, a SubmitQuery call ended, a hub event arrived, the conversation was deleted) and
// returns the turns it changed, for the page to draw. A turn is keyed by its task id, which this page makes for its own questions, so events for it
// apply directly; a question of another tab arrives as TaskAccepted or in the history. Anything else is ignored.
// A turn may replace an earlier one (regenerate, edit: its `replaces`); how such turns group into alternates is
// alternates.js's business. A stopped turn (the user pressed Stop, CancelTask) is final like an answered one.

import { newTaskId } from "./ids.js";

export const Phase = Object.freeze({
  /** Made here; the server has not confirmed it yet (it is being sent, or waits for the connection). */
  Sending: "sending",
  /** The server refused it (a HubException): the user may send it again or edit it. */
  Refused: "refused",
  /** Stored by the server; nothing said yet about a queue or a worker. */
  Accepted: "accepted",
  Queued: "queued",
  Assigned: "assigned",
  Streaming: "streaming",
  Answered: "answered",
  Failed: "failed",
  /** The user stopped it: its text is what had streamed by then. */
  Stopped: "stopped",
});

const TERMINAL = new Set([Phase.Answered, Phase.Failed, Phase.Stopped]);

/** An answered, failed or stopped question is over: nothing changes it any more. */
export const isTerminal = (turn) => TERMINAL.has(turn.phase);

export const LOST_MESSAGE = "This question was lost because the server started a new session. Please ask it again.";
export const FAILED_MESSAGE = "The question could not be answered.";

export class Conversation {
  /** taskId -> turn, in the order the page learnt of them */
  #turns = new Map();
  #newId;
  #now;
  #submitToken = 0;

  constructor({ newId = newTaskId, now = Date.now } = {}) {
    this.#newId = newId;
    this.#now = now;
  }

  get turns() {
    return Array.from(this.#turns.values());
  }

  get size() {
    return this.#turns.size;
  }

  get(taskId) {
    return this.#turns.get(taskId) ?? null;
  }

  /** Forgets everything ("New conversation"). */
  clear() {
    this.#turns.clear();
  }

  /**
   * The conversation was deleted on the server (SessionDeleted, or this page's DeleteSession call returned): nothing of
   * it is left there, so every turn goes, except this page's own questions the server never confirmed. Those were not
   * part of what was deleted: they are sent into the new, empty session, and a call still in flight for one reports
   * back as usual (refused while the deletion ran, or taken by the new session). Returns the turns kept.
   */
  sessionDeleted() {
    for (const [taskId, turn] of this.#turns) {
      if (!turn.mine || turn.accepted) this.#turns.delete(taskId);
    }
    return this.turns;
  }

  // ------------------------------------------------------------------ the user

  /**
   * A new question from this page: a turn at once, in the sending state, under a new task id. Null when empty.
   * replaces: the task id of the turn it takes the place of (regenerate, edit); model: the model chosen for it. Both
   * go with every SubmitQuery call of it (requestOf).
   */
  ask(rawQuery, { replaces = null, model = null } = {}) {
    const query = String(rawQuery ?? "").trim();
    if (!query) return null;
    const turn = this.#create(this.#newId(), query, this.#now(), { mine: true });
    turn.submit = { needed: true, token: 0, tries: 0, retrying: false };
    turn.replaces = typeof replaces === "string" && replaces ? replaces : null;
    turn.model = typeof model === "string" && model ? model : null;
    return turn;
  }

  /** "Ask again" on a failed question: a new question (a new task id) with the same text. */
  askAgain(taskId) {
    const turn = this.get(taskId);
    return turn && turn.phase === Phase.Failed ? this.ask(turn.query) : null;
  }

  /**
   * "Send again" on a refused question: the same question under the same id (if the server did store it after all,
   * it answers with where it stands instead of taking it twice).
   */
  sendAgain(taskId) {
    const turn = this.get(taskId);
    if (!turn || turn.phase !== Phase.Refused) return null;
    turn.phase = Phase.Sending;
    turn.error = null;
    turn.submit = { needed: true, token: 0, tries: turn.submit?.tries ?? 0, retrying: false };
    return turn;
  }

  /** "Edit" on a refused question: the turn goes away and its text goes back to the box. Returns the text. */
  withdraw(taskId) {
    const turn = this.get(taskId);
    if (!turn || turn.phase !== Phase.Refused) return null;
    this.#turns.delete(taskId);
    return turn.query;
  }

  // ------------------------------------------------------------------ Stop (CancelTask)

  /** What Stop stops: the newest question that is still open (being sent, waiting, or being answered), or null. */
  stopTarget() {
    const turns = this.turns;
    for (let i = turns.length - 1; i >= 0; i--) {
      const turn = turns[i];
      if (!isTerminal(turn) && turn.phase !== Phase.Refused) return turn;
    }
    return null;
  }

  /**
   * The user pressed Stop for this question. One that never left the page (never sent, no call in flight) is simply
   * taken back: { turn, withdrawn: text } (the turn is gone, its text goes back to the box). Any other is stopped on the
   * server: { turn } with turn.stop.wanted set; its CancelTask call is made once the server has it (toCancel).
   */
  stop(taskId) {
    const turn = this.get(taskId);
    if (!turn || isTerminal(turn) || turn.phase === Phase.Refused) return null;
    if (!turn.accepted && turn.submit && !turn.submit.token && turn.submit.tries === 0) {
      this.#turns.delete(taskId);
      return { turn, withdrawn: turn.query };
    }
    if (!turn.stop) turn.stop = { wanted: true, inFlight: false };
    turn.stop.wanted = true;
    return { turn, withdrawn: null };
  }

  /** Questions whose CancelTask call is due: Stop was pressed, the server has them, and no call is under way. */
  toCancel() {
    return this.turns.filter((t) => t.stop && t.stop.wanted && !t.stop.inFlight && t.accepted && !isTerminal(t));
  }

  /** A CancelTask call for this question starts. */
  cancelStarted(taskId) {
    const turn = this.get(taskId);
    if (turn && turn.stop) turn.stop.inFlight = true;
    return turn;
  }

  /**
   * The server answered CancelTask: { taskId, status }. "cancelled": the question is stopped (its TaskCancelled, with
   * the server's text, is on its way; until then it shows the text this page has). "answered"/"failed": it had ended
   * already; its outcome is here or on its way, and nothing changes.
   */
  cancelSucceeded(taskId, result) {
    const turn = this.get(taskId);
    if (!turn || !turn.stop) return null;
    turn.stop.inFlight = false;
    turn.stop.wanted = false;
    if (isTerminal(turn) || !result || result.status !== "cancelled") return turn;
    stopped(turn, turn.text, false);
    return turn;
  }

  /**
   * The CancelTask call failed. refused: the server said no (its message is for the user; the question goes on);
   * otherwise the connection dropped and the call is made again once it is back.
   */
  cancelFailed(taskId, { refused }) {
    const turn = this.get(taskId);
    if (!turn || !turn.stop) return null;
    turn.stop.inFlight = false;
    if (refused) turn.stop.wanted = false;
    return turn;
  }

  // ------------------------------------------------------------------ SubmitQuery calls

  /** This page's questions that need a SubmitQuery call now (never sent, or the last call was lost). */
  toSubmit() {
    return this.turns.filter((t) => t.submit && t.submit.needed && !t.submit.token && !isTerminal(t));
  }

  /** A SubmitQuery call for this turn starts; its outcome is reported with the token returned here. */
  submitStarted(taskId) {
    const turn = this.get(taskId);
    if (!turn || !turn.submit) return 0;
    turn.submit.token = ++this.#submitToken;
    turn.submit.tries++;
    return turn.submit.token;
  }

  /** The server answered the call: { taskId, status: assigned | queued | answered, position }. */
  submitSucceeded(taskId, token, result) {
    const turn = this.get(taskId);
    if (!turn || !turn.submit) return null;
    if (turn.submit.token === token) turn.submit.token = 0;
    turn.submit.needed = false;
    turn.submit.retrying = false;
    turn.accepted = true;
    if (isTerminal(turn)) return turn;
    if (turn.phase === Phase.Refused) turn.error = null;
    const waiting = turn.phase === Phase.Sending || turn.phase === Phase.Refused || turn.phase === Phase.Accepted;
    if (turn.phase === Phase.Sending || turn.phase === Phase.Refused) turn.phase = Phase.Accepted;
    // Events of the task can arrive before the call returns: they are newer than the reply, which then says nothing.
    // "answered": the outcome is in the history already or on its way as an event.
    const status = result && result.status;
    if (!waiting || (status !== "queued" && status !== "assigned")) return turn;
    turn.restored = false;
    if (status === "queued") {
      turn.phase = Phase.Queued;
      turn.position = toCount(result.position);
    } else {
      // The reply names the worker: the asking page gets no TaskAssigned of its own for this assignment.
      if (result.workerId) turn.workerId = String(result.workerId);
      turn.phase = Phase.Assigned;
      turn.attempt = Math.max(turn.attempt, toCount(result.attempt) || 1);
    }
    return turn;
  }

  /**
   * The call failed. refused: the server said no (HubException, message is its text to show); otherwise the
   * connection dropped or the call timed out, and the same question is sent again once the connection is back.
   */
  submitFailed(taskId, token, { refused, message }) {
    const turn = this.get(taskId);
    if (!turn || !turn.submit || turn.submit.token !== token) return null; // a call that was replaced
    turn.submit.token = 0;
    if (!refused) {
      turn.submit.retrying = !isTerminal(turn);
      return turn;
    }
    turn.submit.needed = false;
    turn.submit.retrying = false;
    // The server's own events say it has the question: that outweighs a late refusal.
    if (turn.accepted || isTerminal(turn)) return turn;
    turn.phase = Phase.Refused;
    turn.error = message || "The server could not take your question. Please try again in a moment.";
    return turn;
  }

  // ------------------------------------------------------------------ hub events

  /**
   * SessionStarted { sessionId, resumed, history }: on every connect and reconnect. Not resumed means the server has
   * nothing of this session: what it had stored and not answered will never be answered. Questions it never
   * confirmed are still sent (into the new session).
   */
  sessionStarted(payload) {
    if (!payload || typeof payload.sessionId !== "string" || !payload.sessionId) return null;
    const changed = new Set();
    if (payload.resumed !== true) {
      for (const turn of this.#turns.values()) {
        if (turn.accepted && !isTerminal(turn)) {
          fail(turn, LOST_MESSAGE, true);
          turn.lost = true;
          changed.add(turn);
        }
      }
    }
    for (const item of Array.isArray(payload.history) ? payload.history : []) {
      const turn = this.#applyHistoryItem(item);
      if (turn) changed.add(turn);
    }
    return { sessionId: payload.sessionId, resumed: payload.resumed === true, changed: Array.from(changed) };
  }

  /** One hub event about a task; returns the turn it changed, or null (unknown task, stale or final). */
  apply(name, payload) {
    if (!payload || typeof payload.taskId !== "string" || !payload.taskId) return null;
    if (name === "TaskAccepted") return this.#accepted(payload);
    const turn = this.get(payload.taskId);
    if (!turn) return null; // not ours, not in the history, never announced
    if (name === "TaskCancelled" && turn.phase === Phase.Stopped && !turn.stopConfirmed) {
      // Stopped on CancelTask's reply: the server's own text of it is the one to keep.
      stopped(turn, payload.text, true);
      return turn;
    }
    if (isTerminal(turn)) return null; // over: nothing changes it
    switch (name) {
      case "TaskQueued":
        return this.#queued(turn, payload);
      case "TaskAssigned":
        return this.#assigned(turn, payload);
      case "AiResponseChunk":
        return this.#chunk(turn, payload);
      case "AiResponse":
        heard(turn);
        answer(turn, payload);
        return turn;
      case "TaskFailed":
        heard(turn);
        fail(turn, payload.error, payload.retryable === true);
        return turn;
      case "TaskCancelled":
        heard(turn);
        stopped(turn, payload.text, true);
        return turn;
      default:
        return null;
    }
  }

  #accepted(payload) {
    let turn = this.get(payload.taskId);
    if (!turn) {
      // Another tab of this session asked it.
      turn = this.#create(payload.taskId, textOf(payload.query), askedAt(payload.timestamp, this.#now()), { accepted: true });
      turn.replaces = idOf(payload.replaces);
      return turn;
    }
    turn.accepted = true;
    if (turn.phase === Phase.Sending || turn.phase === Phase.Refused) {
      turn.phase = Phase.Accepted;
      turn.error = null;
      if (turn.submit) turn.submit.retrying = false;
    }
    return turn;
  }

  #queued(turn, payload) {
    heard(turn);
    turn.phase = Phase.Queued;
    turn.position = toCount(payload.position);
    return turn;
  }

  #assigned(turn, payload) {
    const attempt = toCount(payload.attempt) || 1;
    if (attempt < turn.attempt) return null; // a late word of an earlier attempt
    heard(turn);
    if (payload.workerId) turn.workerId = String(payload.workerId);
    // Another worker has it (its first one died): its answer starts over. After a reload the attempt is unknown
    // (0), and a repeated assignment of the same attempt only happens before any text was written.
    if (attempt > turn.attempt) turn.text = "";
    turn.attempt = attempt;
    turn.position = null;
    if (turn.phase === Phase.Streaming && turn.text) return turn;
    turn.phase = Phase.Assigned;
    return turn;
  }

  /** A piece of the answer as the worker writes it: replaces the text from offset on. */
  #chunk(turn, payload) {
    const attempt = toCount(payload.attempt) ?? 0;
    if (attempt < turn.attempt) return null; // an earlier attempt's late text
    let changed = false;
    if (attempt > turn.attempt) {
      if (turn.attempt > 0 && turn.text) {
        turn.text = ""; // a new attempt we had not heard of yet
        changed = true;
      }
      turn.attempt = attempt;
    }
    const offset = Number(payload.offset);
    // A gap (chunks missed while reconnecting): the history brings the text so far, AiResponse the whole answer.
    if (!Number.isInteger(offset) || offset < 0 || offset > turn.text.length) return changed ? turn : null;
    heard(turn);
    turn.text = turn.text.slice(0, offset) + textOf(payload.text);
    turn.phase = Phase.Streaming;
    return turn;
  }

  #applyHistoryItem(item) {
    if (!item || typeof item.taskId !== "string" || !item.taskId) return null;
    let turn = this.get(item.taskId);
    if (!turn) {
      turn = this.#create(item.taskId, textOf(item.query), askedAt(item.timestamp, this.#now()), { accepted: true });
      turn.restored = true; // where it stands is unknown until the next event (queue and worker events are not replayed)
      turn.replaces = idOf(item.replaces);
    } else {
      if (turn.phase === Phase.Stopped && !turn.stopConfirmed && item.cancelled === true) {
        stoppedFrom(turn, item);
        return turn;
      }
      if (isTerminal(turn)) return null;
      if (!turn.replaces) turn.replaces = idOf(item.replaces);
      turn.accepted = true;
      if (turn.phase === Phase.Sending || turn.phase === Phase.Refused) {
        turn.phase = Phase.Accepted;
        turn.error = null;
      }
    }
    if (item.cancelled === true) {
      stoppedFrom(turn, item);
    } else if (item.error != null) {
      fail(turn, item.error, item.retryable === true);
    } else if (item.response != null) {
      answer(turn, item);
    } else if (typeof item.partial === "string" && item.partial !== "") {
      // The server's text so far; the next chunks continue from its length. Text we have that extends it is newer.
      if (!(turn.text.length > item.partial.length && turn.text.startsWith(item.partial))) turn.text = item.partial;
      turn.phase = Phase.Streaming;
    }
    return turn;
  }

  #create(taskId, query, at, { mine = false, accepted = false } = {}) {
    const turn = {
      taskId,
      query,
      askedAt: at,
      /** asked from this page, which made its id */
      mine,
      /** the task id of the turn this one takes the place of (regenerate, edit), or null */
      replaces: null,
      /** the model this page asked for (its own questions only), or null: the server's default */
      model: null,
      phase: mine ? Phase.Sending : Phase.Accepted,
      /** the server has stored it */
      accepted,
      /** known only from the history: no word yet of where it stands */
      restored: false,
      /** this page's SubmitQuery calls: { needed, token (the call in flight, 0: none), tries, retrying } */
      submit: null,
      position: null,
      workerId: "",
      attempt: 0,
      /** the text streamed so far, then the whole answer */
      text: "",
      provider: "",
      processingTimeMs: null,
      /** the model's token counts, when the worker reported them */
      promptTokens: null,
      outputTokens: null,
      error: null,
      retryable: false,
      /** failed because the server started a new session: it has nothing of this question */
      lost: false,
      /** Stop was pressed: { wanted (a CancelTask call is due or under way), inFlight } */
      stop: null,
      /** a stopped turn's text is the server's (TaskCancelled or the history), not only this page's */
      stopConfirmed: false,
    };
    this.#turns.set(taskId, turn);
    return turn;
  }
}

/** An event said where the question stands: the server has it. */
function heard(turn) {
  turn.accepted = true;
  turn.restored = false;
}

function answer(turn, payload) {
  turn.phase = Phase.Answered;
  turn.text = textOf(payload.response);
  turn.workerId = payload.workerId ? String(payload.workerId) : turn.workerId;
  turn.provider = payload.provider ? String(payload.provider) : "";
  const ms = Number(payload.processingTimeMs);
  turn.processingTimeMs = payload.processingTimeMs != null && Number.isFinite(ms) && ms >= 0 ? ms : null;
  usage(turn, payload);
  turn.error = null;
  turn.position = null;
}

/** The token counts an answer (or its history item) carries; absent or not a count: unknown. */
function usage(turn, payload) {
  turn.promptTokens = toCount(payload.promptTokens);
  turn.outputTokens = toCount(payload.outputTokens);
}

/** Stopped by the user: the text is what had streamed. confirmed: the server's text (TaskCancelled, history). */
function stopped(turn, text, confirmed) {
  turn.phase = Phase.Stopped;
  turn.text = textOf(text);
  turn.stopConfirmed = confirmed;
  turn.error = null;
  turn.position = null;
  if (turn.stop) turn.stop.wanted = false;
}

/** A history item of a stopped question: its response is the text streamed by then. */
function stoppedFrom(turn, item) {
  stopped(turn, item.response ?? item.partial ?? "", true);
  if (item.workerId) turn.workerId = String(item.workerId);
  if (item.provider) turn.provider = String(item.provider);
  const ms = Number(item.processingTimeMs);
  if (item.processingTimeMs != null && Number.isFinite(ms) && ms >= 0) turn.processingTimeMs = ms;
  usage(turn, item);
}

function fail(turn, error, retryable) {
  turn.phase = Phase.Failed;
  turn.error = error ? String(error) : FAILED_MESSAGE;
  turn.retryable = retryable;
  turn.position = null;
}

function textOf(value) {
  return value == null ? "" : String(value);
}

function idOf(value) {
  return typeof value === "string" && value ? value : null;
}

/**
 * The SubmitQuery argument for this page's question: { query, apiKey, taskId }, with replaces and model only when the
 * question has them (an older server knows neither).
 */
export function requestOf(turn, apiKey) {
  const request = { query: turn.query, apiKey: String(apiKey ?? "").trim(), taskId: turn.taskId };
  if (turn.replaces) request.replaces = turn.replaces;
  if (turn.model) request.model = turn.model;
  return request;
}

function toCount(value) {
  const n = Number(value);
  return value != null && Number.isInteger(n) && n >= 0 ? n : null;
}

/** When a question was asked: the server's time if it is sane, else now. */
function askedAt(timestamp, now) {
  const at = Number(timestamp);
  return Number.isFinite(at) && at > 0 && at <= now ? at : now;
}
