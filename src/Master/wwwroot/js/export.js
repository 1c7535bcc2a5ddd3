// "Export": the conversation as a Markdown file (conversation-<date>.md), as the page shows it: for each place of the
// conversation the alternate on screen, its question and its answer (a stopped one marked so, a failed one with its
// error), and under each answer its worker, model, time and tokens. Plain text: no DOM (main.js makes the download).

import { Phase } from "./conversation.js";
import { formatMeta } from "./render.js";

const pad = (n) => String(n).padStart(2, "0");

/** 2024-06-10, in local time. */
export function isoDate(at) {
  const d = new Date(at);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** 2024-06-10 14:32, in local time. */
function dateTime(at) {
  const d = new Date(at);
  return `${isoDate(at)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The file's name: conversation-2024-06-10.md. */
export const exportFileName = (at) => `conversation-${isoDate(at)}.md`;

/** A question as a Markdown quote: every line quoted, so that its own Markdown stays inside it. */
function quote(text) {
  return String(text).split("\n").map((line) => (line ? `> ${line}` : ">")).join("\n");
}

/**
 * The Markdown of a conversation. title: its name; turns: the turns to write, in order (the shown alternate of each
 * place); exportedAt: epoch ms.
 */
export function conversationMarkdown({ title, turns, exportedAt }) {
  const out = [`# ${String(title || "Conversation").replace(/\s+/g, " ").trim()}`, "", `*Exported from AiSystem chat on ${dateTime(exportedAt)}.*`];
  const written = turns.filter((t) => t.phase !== Phase.Refused && t.phase !== Phase.Sending);
  written.forEach((turn, i) => {
    out.push("", "---", "", `## Question ${i + 1}`, "", `*Asked ${dateTime(turn.askedAt)}*`, "", quote(turn.query), "");
    switch (turn.phase) {
      case Phase.Answered:
        out.push("### Answer", "", turn.text || "*(empty answer)*");
        break;
      case Phase.Stopped:
        out.push("### Answer (stopped)", "", turn.text || "*(stopped before any text was written)*");
        break;
      case Phase.Failed:
        out.push("### Failed", "", turn.error || "The question could not be answered.");
        break;
      default:
        out.push("### Answer (still being written)", "", turn.text || "*(no text yet)*");
    }
    const meta = turn.phase === Phase.Answered || turn.phase === Phase.Stopped ? formatMeta(turn) : "";
    const marks = [turn.phase === Phase.Stopped ? "Stopped" : "", meta].filter(Boolean).join(" · ");
    if (marks) out.push("", `*${marks}*`);
  });
  if (written.length === 0) out.push("", "*No questions yet.*");
  return `${out.join("\n")}\n`;
}
