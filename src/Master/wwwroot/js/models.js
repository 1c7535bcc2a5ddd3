// The model picker's rules (SessionStarted.models, docs/protocol.md §5.3): the operator's allowed models, the first
// the default. With more than one the page offers a choice and sends it (SubmitQuery's `model`); with one or none
// (or an older server, which sends no list) there is no picker and no `model` field. Plain state: no DOM.

/** The allowed models: the strings of the list, trimmed, each once, in the server's order. */
export function allowedModels(models) {
  if (!Array.isArray(models)) return [];
  const seen = new Set();
  for (const m of models) {
    const name = typeof m === "string" ? m.trim() : "";
    if (name && !seen.has(name)) seen.add(name);
  }
  return Array.from(seen);
}

/** The page shows a picker only when there is something to choose. */
export const showsPicker = (models) => allowedModels(models).length > 1;

/** The model to use: the remembered choice while it is still allowed, else the default (the first); null: no choice. */
export function chosenModel(models, remembered) {
  const allowed = allowedModels(models);
  if (allowed.length < 2) return null;
  return typeof remembered === "string" && allowed.includes(remembered) ? remembered : allowed[0];
}

/** What a question sends as `model`: the choice when there is a picker, otherwise nothing (null). */
export function modelToSend(models, choice) {
  const allowed = allowedModels(models);
  return allowed.length > 1 && allowed.includes(choice) ? choice : null;
}
