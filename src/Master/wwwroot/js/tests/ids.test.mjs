// Task ids made by the page: node --test src/Master/wwwroot/js/tests/
import { test } from "node:test";
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { newTaskId, isTaskId } from "../ids.js";

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("crypto.randomUUID is used where it exists", () => {
  assert.equal(newTaskId({ randomUUID: () => "3f2b8c1e-6d4a-4b7e-9a15-2c8d0e6f4a91" }), "3f2b8c1e-6d4a-4b7e-9a15-2c8d0e6f4a91");
});

test("without randomUUID (plain http on a LAN address) the id is built from getRandomValues", () => {
  const insecure = { getRandomValues: (bytes) => webcrypto.getRandomValues(bytes) };
  const ids = new Set(Array.from({ length: 1000 }, () => newTaskId(insecure)));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, V4);
});

test("a randomUUID that throws falls back to getRandomValues", () => {
  const refusing = { randomUUID: () => { throw new Error("insecure context"); }, getRandomValues: (b) => webcrypto.getRandomValues(b) };
  assert.match(newTaskId(refusing), V4);
});

test("known bytes give the expected 8-4-4-4-12 lowercase form, version 4, RFC 4122 variant", () => {
  const fixed = { getRandomValues: (bytes) => bytes.fill(0xff) };
  assert.equal(newTaskId(fixed), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  assert.ok(isTaskId(newTaskId(fixed)));
});

test("the default source (this runtime's crypto) makes valid ids", () => {
  assert.ok(isTaskId(newTaskId()));
  assert.equal(isTaskId("3F2B8C1E-6D4A-4B7E-9A15-2C8D0E6F4A91"), false, "the page sends lowercase ids");
  assert.equal(isTaskId("not-a-uuid"), false);
});
