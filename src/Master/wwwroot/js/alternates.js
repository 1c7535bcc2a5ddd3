// Regenerate and edit (docs/protocol.md §5.2 `replaces`): a turn can take the place of the conversation's last turn,
// which stays reachable. The turns that replace one another form a chain ("alternates"), shown in the place of its
// first turn, one at a time, with a pager "‹ 1 of 2 ›". The newest alternate is the chain's current one (the server's
// conversation goes on from it); the one shown is the newest too, unless the reader paged back. Plain state: no DOM.

import { Phase, isTerminal } from "./conversation.js";

/**
 * The turns grouped into chains, in the order of the conversation: each chain is { rootId, turns } with its first
 * turn first and its alternates after it in the order asked. A turn whose `replaces` names a turn this page does not
 * know starts a chain of its own.
 */
export function chainsOf(turns) {
  const byId = new Map(turns.map((t) => [t.taskId, t]));
  const index = new Map(turns.map((t, i) => [t.taskId, i]));
  const rootOf = (turn) => {
    let current = turn;
    const path = [turn];
    const seen = new Set([turn.taskId]);
    while (current.replaces && byId.has(current.replaces)) {
      if (seen.has(current.replaces)) {
        // A loop (never from a sane server): its earliest turn stands for it, whichever turn the walk started from.
        return path.reduce((a, b) => (index.get(a.taskId) <= index.get(b.taskId) ? a : b));
      }
      current = byId.get(current.replaces);
      path.push(current);
      seen.add(current.taskId);
    }
    return current;
  };
  const chains = new Map();
  for (const turn of turns) {
    const root = rootOf(turn);
    let chain = chains.get(root.taskId);
    if (!chain) {
      chain = { rootId: root.taskId, turns: [] };
      chains.set(root.taskId, chain);
    }
    chain.turns.push(turn);
  }
  const list = Array.from(chains.values());
  for (const chain of list) {
    // The first turn first (the page can learn of an alternate before the turn it replaced, from another tab).
    chain.turns.sort((a, b) => (a.taskId === chain.rootId ? -1 : b.taskId === chain.rootId ? 1 : index.get(a.taskId) - index.get(b.taskId)));
  }
  return list.sort((a, b) => index.get(a.rootId) - index.get(b.rootId));
}

/** Which alternate of each chain the reader looks at: the newest, unless they paged to another since it came. */
export class Selection {
  /** rootId -> { taskId, count (the chain's length when chosen) } */
  #chosen = new Map();

  /** The turn of this chain to show. A new alternate takes the place of whatever was chosen before it came. */
  shownOf(chain) {
    const newest = chain.turns[chain.turns.length - 1];
    const choice = this.#chosen.get(chain.rootId);
    if (!choice || choice.count !== chain.turns.length) return newest;
    return chain.turns.find((t) => t.taskId === choice.taskId) || newest;
  }

  /** Shows this alternate of its chain. */
  choose(chain, taskId) {
    if (!chain.turns.some((t) => t.taskId === taskId)) return null;
    this.#chosen.set(chain.rootId, { taskId, count: chain.turns.length });
    return this.shownOf(chain);
  }

  /** The pager: the previous (delta -1) or next (+1) alternate; returns the turn now shown (the same at either end). */
  step(chain, delta) {
    const shown = this.shownOf(chain);
    const at = chain.turns.indexOf(shown);
    const next = chain.turns[Math.max(0, Math.min(chain.turns.length - 1, at + delta))];
    return this.choose(chain, next.taskId);
  }

  clear() {
    this.#chosen.clear();
  }
}

/** "1 of 2" and where the pager's buttons lead (null: disabled); null for a chain of one turn. */
export function pagerOf(chain, shown) {
  const count = chain.turns.length;
  if (count < 2) return null;
  const at = chain.turns.indexOf(shown);
  return {
    index: at + 1,
    count,
    label: `${at + 1} of ${count}`,
    prev: at > 0 ? chain.turns[at - 1].taskId : null,
    next: at < count - 1 ? chain.turns[at + 1].taskId : null,
  };
}

/** The server has this turn in the conversation: it stored it and did not lose it with a session it no longer has. */
const onServer = (turn) => turn.accepted && !turn.lost;

/**
 * The conversation as the page shows it: { chains: [{ rootId, turns, shown, pager }], last, target }.
 * last: the chain holding the conversation's last turn (only turns the server refused come after it);
 * target: that turn, the one a regenerate or an edit replaces, when it can be replaced now: the server has it and it
 * is over (answered, failed or stopped), and no newer question of its chain is still being sent. Otherwise null.
 */
export function lineOf(turns, selection) {
  const chains = chainsOf(turns).map((chain) => {
    const shown = selection.shownOf(chain);
    return { ...chain, shown, pager: pagerOf(chain, shown) };
  });
  let last = null;
  let target = null;
  for (let i = chains.length - 1; i >= 0; i--) {
    const chain = chains[i];
    const base = [...chain.turns].reverse().find(onServer) || null;
    if (!base) {
      if (chain.turns.every((t) => t.phase === Phase.Refused)) continue; // not on the server: the turn before is the last
      break; // a question still being sent: nothing can be replaced until it is confirmed
    }
    last = chain;
    const newer = chain.turns.slice(chain.turns.indexOf(base) + 1);
    if (isTerminal(base) && newer.every((t) => t.phase === Phase.Refused)) target = base;
    break;
  }
  return { chains, last, target };
}

/**
 * The buttons of a shown turn: "send-again" and "edit" (a refused question: back to the box), "regenerate" and
 * "revise" (the last turn, once it is over: ask it again, or edit it in place, in its place), "ask-again" (an earlier
 * failed question: asked anew at the end).
 */
export function actionsOf(turn, chain, line) {
  if (turn.phase === Phase.Refused) return ["send-again", "edit"];
  if (line.target && chain === line.last && isTerminal(turn) && turn.query.trim()) return ["regenerate", "revise"];
  if (turn.phase === Phase.Failed && turn.query.trim()) return ["ask-again"];
  return [];
}

/**
 * What a regenerate (same text) or an edit (new text) of the shown turn taskId sends: { query, replaces }, or null when
 * it is not the last turn or that cannot be replaced now. The text is that of the alternate shown; what it replaces is
 * always the conversation's last turn (an earlier alternate can be asked again, but only in the last one's place).
 */
export function replacementOf(line, taskId, text = null) {
  if (!line.target || !line.last) return null;
  const turn = line.last.turns.find((t) => t.taskId === taskId);
  if (!turn || !isTerminal(turn)) return null;
  const query = String(text ?? turn.query).trim();
  return query ? { query, replaces: line.target.taskId } : null;
}
