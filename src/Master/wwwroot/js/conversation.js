// The conversation's rules as plain state: no DOM, no SignalR (docs/protocol.md §5). Every method takes one thing
// that happened (the user asked, a SubmitQuery call ended, a hub event arrived, the conversation was deleted) and
// returns the turns it changed, for the page to draw. A turn is keyed by its task id, which this page makes for its own questions, so events for it
// apply directly; a question of another tab arrives as TaskAccepted or in the history. Anything else is ignored.

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
});

const TERMINAL = new Set([Phase.Answered, Phase.Failed]);

/** An answered or failed question is over: nothing changes it any more. */
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

  /** A new question from this page: a turn at once, in the sending state, under a new task id. Null when empty. */
  ask(rawQuery) {
    const query = String(rawQuery ?? "").trim();
    if (!query) return null;
    const turn = this.#create(this.#newId(), query, this.#now(), { mine: true });
    turn.submit = { needed: true, token: 0, tries: 0, retrying: false };
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
    if (!turn || isTerminal(turn)) return null; // not ours, not in the history, never announced; or over
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
      default:
        return null;
    }
  }

  #accepted(payload) {
    let turn = this.get(payload.taskId);
    if (!turn) {
      // Another tab of this session asked it.
      return this.#create(payload.taskId, textOf(payload.query), askedAt(payload.timestamp, this.#now()), { accepted: true });
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
    } else {
      if (isTerminal(turn)) return null;
      turn.accepted = true;
      if (turn.phase === Phase.Sending || turn.phase === Phase.Refused) {
        turn.phase = Phase.Accepted;
        turn.error = null;
      }
    }
    if (item.error != null) {
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
      error: null,
      retryable: false,
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
  turn.error = null;
  turn.position = null;
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

function toCount(value) {
  const n = Number(value);
  return value != null && Number.isInteger(n) && n >= 0 ? n : null;
}

/** When a question was asked: the server's time if it is sane, else now. */
function askedAt(timestamp, now) {
  const at = Number(timestamp);
  return Number.isFinite(at) && at > 0 && at <= now ? at : now;
}
