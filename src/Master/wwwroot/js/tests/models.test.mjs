// The model picker's rules: node --test src/Master/wwwroot/js/tests/
import { test } from "node:test";
import assert from "node:assert/strict";
import { allowedModels, showsPicker, chosenModel, modelToSend } from "../models.js";

const MODELS = ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"];

test("a picker only with more than one model; an older server sends no list", () => {
  assert.equal(showsPicker(MODELS), true);
  assert.equal(showsPicker(["gemini-2.5-flash"]), false);
  assert.equal(showsPicker([]), false);
  assert.equal(showsPicker(undefined), false);
  assert.equal(showsPicker(null), false);
  assert.equal(showsPicker(["same", " same "]), false, "the same model twice is one");
});

test("the list is cleaned: strings only, trimmed, each once, in the server's order", () => {
  assert.deepEqual(allowedModels([" a ", "b", "a", "", 7, null, "c"]), ["a", "b", "c"]);
  assert.deepEqual(allowedModels("a,b"), []);
});

test("the remembered choice is used while it is still allowed; else the default, the first", () => {
  assert.equal(chosenModel(MODELS, "gemini-2.5-pro"), "gemini-2.5-pro");
  assert.equal(chosenModel(MODELS, "gemini-1.0-ultra"), "gemini-2.5-flash", "no longer allowed");
  assert.equal(chosenModel(MODELS, null), "gemini-2.5-flash");
  assert.equal(chosenModel(["only"], "only"), null, "no choice to make");
});

test("a question sends model only when there is a picker, and only an allowed one", () => {
  assert.equal(modelToSend(MODELS, "gemini-2.5-pro"), "gemini-2.5-pro");
  assert.equal(modelToSend(MODELS, "not-allowed"), null);
  assert.equal(modelToSend(["only"], "only"), null);
  assert.equal(modelToSend([], null), null);
  assert.equal(modelToSend(MODELS, chosenModel(MODELS, "gone")), "gemini-2.5-flash");
});
