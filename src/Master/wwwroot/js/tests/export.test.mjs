// Export as Markdown: node --test src/Master/wwwroot/js/tests/
import { test } from "node:test";
import assert from "node:assert/strict";
import { Conversation } from "../conversation.js";
import { conversationMarkdown, exportFileName, isoDate } from "../export.js";

const AT = new Date(2024, 5, 10, 14, 32).getTime();

function conversation() {
  let n = 0;
  const c = new Conversation({ newId: () => `00000000-0000-4000-8000-00000000000${++n}`, now: () => AT });
  const ask = (query) => {
    const turn = c.ask(query);
    c.submitSucceeded(turn.taskId, c.submitStarted(turn.taskId), { taskId: turn.taskId, status: "assigned", workerId: "w1", attempt: 1 });
    return turn;
  };
  return { c, ask };
}

test("the file is conversation-<date>.md", () => {
  assert.equal(exportFileName(AT), "conversation-2024-06-10.md");
  assert.equal(isoDate(new Date(2024, 0, 5).getTime()), "2024-01-05");
});

test("title, each question and answer, stopped and failed ones marked, and per answer its worker, model, time and tokens", () => {
  const { c, ask } = conversation();
  const answered = ask("What is Docker Swarm?\nIn short.");
  c.apply("AiResponse", { taskId: answered.taskId, response: "Docker Swarm is **a scheduler**.", workerId: "python-worker-7",
    provider: "gemini:gemini-2.5-flash", processingTimeMs: 2314, promptTokens: 12, outputTokens: 48 });
  const stopped = ask("Tell me a long story");
  c.apply("AiResponseChunk", { taskId: stopped.taskId, attempt: 1, offset: 0, text: "Once upon" });
  c.apply("TaskCancelled", { taskId: stopped.taskId, text: "Once upon a time" });
  const failed = ask("Fails");
  c.apply("TaskFailed", { taskId: failed.taskId, error: "The key was rejected.", retryable: false });
  const refused = c.ask("Refused, never on the server");
  c.submitFailed(refused.taskId, c.submitStarted(refused.taskId), { refused: true, message: "Too long." });

  const md = conversationMarkdown({ title: "Swarm notes", turns: c.turns, exportedAt: AT });
  assert.equal(md, [
    "# Swarm notes",
    "",
    "*Exported from AiSystem chat on 2024-06-10 14:32.*",
    "",
    "---",
    "",
    "## Question 1",
    "",
    "*Asked 2024-06-10 14:32*",
    "",
    "> What is Docker Swarm?",
    "> In short.",
    "",
    "### Answer",
    "",
    "Docker Swarm is **a scheduler**.",
    "",
    "*python-worker-7 · gemini:gemini-2.5-flash · 2.3 s · 12 + 48 tokens*",
    "",
    "---",
    "",
    "## Question 2",
    "",
    "*Asked 2024-06-10 14:32*",
    "",
    "> Tell me a long story",
    "",
    "### Answer (stopped)",
    "",
    "Once upon a time",
    "",
    "*Stopped · w1*",
    "",
    "---",
    "",
    "## Question 3",
    "",
    "*Asked 2024-06-10 14:32*",
    "",
    "> Fails",
    "",
    "### Failed",
    "",
    "The key was rejected.",
    "",
  ].join("\n"));
  assert.doesNotMatch(md, /Refused, never on the server/);
});

test("an empty conversation, and one without a title", () => {
  const md = conversationMarkdown({ title: "", turns: [], exportedAt: AT });
  assert.match(md, /^# Conversation\n/);
  assert.match(md, /\*No questions yet\.\*\n$/);
});
