// This browser's conversations: the side panel's list, kept in localStorage under LIST_KEY as a JSON array of
// { sessionId, resumeToken, title, lastActivity } (newest activity first when shown). The session the page is on is
// also kept under the keys of the single-session page before it (CURRENT_KEY, TOKEN_KEY), which the first load
// migrates into the list. Every change reads the list afresh and writes it back: other tabs of this browser change it
// too (the page redraws on their "storage" events). Plain state over a storage object: no DOM.

export const LIST_KEY = "aisystem.conversations";
/** The session the page is on, and its resume token: the keys of the page before the list, still kept current. */
export const CURRENT_KEY = "aisystem.sessionId";
export const TOKEN_KEY = "aisystem.resumeToken";
export const TITLE_MAX = 60;
/** What a conversation without a title is called. */
export const UNTITLED = "New conversation";

/** A conversation's title from its first question: one line, at most TITLE_MAX characters (an ellipsis when cut). */
export function titleFrom(query, max = TITLE_MAX) {
  const text = String(query ?? "").replace(/\s+/g, " ").trim();
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** A list as stored, made safe: entries with a session id, the fields of the right types, each session once. */
export function parseList(json) {
  let raw;
  try {
    raw = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const seen = new Set();
  const list = [];
  for (const e of raw) {
    if (!e || typeof e.sessionId !== "string" || !e.sessionId || seen.has(e.sessionId)) continue;
    seen.add(e.sessionId);
    list.push(entry(e));
  }
  return list;
}

function entry({ sessionId, resumeToken, title, lastActivity }) {
  const at = Number(lastActivity);
  return {
    sessionId,
    resumeToken: typeof resumeToken === "string" ? resumeToken : "",
    title: typeof title === "string" ? titleFrom(title) : "",
    lastActivity: Number.isFinite(at) && at > 0 ? at : 0,
  };
}

/** Newest activity first (a stable order for equal times). */
export function sorted(list) {
  return list.map((e, i) => [e, i]).sort((a, b) => b[0].lastActivity - a[0].lastActivity || a[1] - b[1]).map(([e]) => e);
}

/**
 * The list over a storage with get(key) and set(key, value-or-null) (localStorage, or a Map in the tests).
 * now: the clock, for last activity.
 */
export class ConversationStore {
  #storage;
  #now;

  constructor({ storage, now = Date.now }) {
    this.#storage = storage;
    this.#now = now;
  }

  /** Every conversation, newest activity first. */
  list() {
    return sorted(this.#read());
  }

  get(sessionId) {
    return this.#read().find((e) => e.sessionId === sessionId) ?? null;
  }

  /**
   * The first load of a page with the list: the single session the page before it kept (CURRENT_KEY, TOKEN_KEY)
   * becomes the list's first entry (its title comes with its history). Once there is a list, nothing happens.
   */
  migrate() {
    if (this.#storage.get(LIST_KEY) != null) return this.list();
    const sessionId = this.#storage.get(CURRENT_KEY);
    const list = sessionId ? [entry({ sessionId, resumeToken: this.#storage.get(TOKEN_KEY) || "", title: "", lastActivity: this.#now() })] : [];
    this.#write(list);
    return list;
  }

  /**
   * Adds the conversation or updates it: its resume token; its title only while it has none (a renamed one keeps its
   * name); its last activity only forward.
   */
  upsert(sessionId, { resumeToken, title, lastActivity } = {}) {
    if (typeof sessionId !== "string" || !sessionId) return null;
    const list = this.#read();
    let e = list.find((x) => x.sessionId === sessionId);
    if (!e) {
      e = entry({ sessionId, resumeToken, title, lastActivity: lastActivity ?? this.#now() });
      list.push(e);
    } else {
      if (typeof resumeToken === "string" && resumeToken) e.resumeToken = resumeToken;
      if (!e.title && title) e.title = titleFrom(title);
      const at = Number(lastActivity);
      if (Number.isFinite(at) && at > e.lastActivity) e.lastActivity = at;
    }
    this.#write(list);
    return { ...e };
  }

  /** Something happened in the conversation (a question, an answer): it moves to the top. */
  touch(sessionId, at = this.#now()) {
    return this.get(sessionId) ? this.upsert(sessionId, { lastActivity: at }) : null;
  }

  /** Renames it; an empty name gives it back the title of its first question (fallback). */
  rename(sessionId, title, fallback = "") {
    const list = this.#read();
    const e = list.find((x) => x.sessionId === sessionId);
    if (!e) return null;
    e.title = titleFrom(title) || titleFrom(fallback);
    this.#write(list);
    return { ...e };
  }

  remove(sessionId) {
    const list = this.#read();
    const kept = list.filter((e) => e.sessionId !== sessionId);
    if (kept.length !== list.length) this.#write(kept);
    return kept.length !== list.length;
  }

  #read() {
    const json = this.#storage.get(LIST_KEY);
    return json == null ? [] : parseList(json);
  }

  #write(list) {
    this.#storage.set(LIST_KEY, JSON.stringify(list));
  }
}

/** "just now", "5 min ago", "14:32" (today), "Yesterday", "12 Jun" (this year), "12 Jun 2024". */
export function formatActivity(at, now = Date.now(), locale = undefined) {
  if (!(at > 0)) return "";
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  const when = new Date(at);
  const today = new Date(now);
  const sameDay = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  if (sameDay(when, today)) return when.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (sameDay(when, yesterday)) return "Yesterday";
  const options = when.getFullYear() === today.getFullYear() ? { day: "numeric", month: "short" } : { day: "numeric", month: "short", year: "numeric" };
  return when.toLocaleDateString(locale, options);
}
