// Every golden vector of tests/golden/wire/ (docs/protocol.md section 11): each valid file
// decodes to its `values` (and its msgpack to its `payload`), each invalid one fails with exactly
// its `error`. Also: every truncation of every valid payload fails with a WireError only.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { DTYPES, NdArray } from "../src/arrays.js";
import { mergeCells } from "../src/clone.js";
import { CrowdDecoder } from "../src/crowd.js";
import { DECODERS, decodeAny } from "../src/decode.js";
import { MsgFloat, WireError } from "../src/errors.js";
import { unpack } from "../src/msgpack.js";

const GOLDEN =
  process.env.SYNTHTWIN_GOLDEN ??
  join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "tests", "golden", "wire");
const read = (name) => new Uint8Array(readFileSync(join(GOLDEN, name)));
const CASES = readdirSync(GOLDEN).filter((name) => name.endsWith(".json")).sort();

function run(doc) {
  const data = read(doc.file);
  if (doc.decoder === "crowd_state" || doc.decoder === "crowd_merge") {
    const decoder = new CrowdDecoder();
    for (const name of doc.apply) decoder.apply(read(name));
    const state = decoder.apply(data);
    return doc.decoder === "crowd_state" ? state : mergeCells(decoder.states());
  }
  if (doc.decoder === "any") return decodeAny(data);
  return DECODERS[doc.decoder](data);
}

function nested(flat, shape) {
  if (shape.length <= 1) return Array.from(flat);
  const step = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nested(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** JSON form of a decoded value, as make_golden.py's to_json writes it. */
function toJson(value) {
  if (value instanceof NdArray) return nested(value.data, value.shape);
  if (value instanceof MsgFloat) return value.value;
  if (value instanceof Uint8Array) return { $bin: hex(value) };
  if (ArrayBuffer.isView(value)) return Array.from(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Map) {
    const keys = [...value.keys()].sort();
    if (keys.join() === "data,dtype,shape" && value.get("data") instanceof Uint8Array) {
      const Typed = DTYPES[value.get("dtype")];
      const raw = value.get("data").slice();
      return { dtype: value.get("dtype"), shape: value.get("shape"), data: nested(new Typed(raw.buffer), value.get("shape").map(Number)) };
    }
    return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v)]));
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}

/** Integers exactly, floats within a relative 1e-6 (section 11). */
function same(actual, expected, path) {
  if (typeof actual === "bigint" || typeof expected === "bigint") {
    assert.equal(BigInt(actual), BigInt(expected), path);
  } else if (typeof expected === "number") {
    assert.equal(typeof actual, "number", path);
    if (Number.isInteger(expected) && Number.isInteger(actual)) assert.equal(actual, expected, path);
    else assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `${path}: ${actual} != ${expected}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: not an array`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((item, i) => same(actual[i], item, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === "object") {
    for (const [key, item] of Object.entries(expected)) {
      assert.ok(actual !== null && key in actual, `${path}.${key} is missing`);
      same(actual[key], item, `${path}.${key}`);
    }
  } else {
    assert.equal(actual, expected, path);
  }
}

test("the golden folder holds cases", () => assert.ok(CASES.length >= 60, GOLDEN));

for (const name of CASES) {
  const doc = JSON.parse(readFileSync(join(GOLDEN, name), "utf8"));
  if (name.startsWith("invalid_")) {
    test(`golden ${name}`, () => {
      assert.throws(() => run(doc), (err) => {
        assert.ok(err instanceof WireError, `${err}`);
        assert.deepEqual({ code: err.code, message: err.message }, doc.error);
        return true;
      });
    });
  } else {
    test(`golden ${name}`, () => {
      if (doc.payload !== undefined) same(toJson(unpack(read(doc.file))), doc.payload, "payload");
      same(toJson(run(doc)), doc.values, "values");
    });
  }
}

test("every truncation of every valid payload fails with a WireError only", () => {
  for (const name of CASES.filter((n) => !n.startsWith("invalid_"))) {
    const doc = JSON.parse(readFileSync(join(GOLDEN, name), "utf8"));
    if (doc.payload === undefined) continue;
    const data = read(doc.file);
    for (let end = 0; end < data.length; end++) {
      assert.throws(() => decodeAny(data.subarray(0, end)), WireError, `${doc.file}[:${end}]`);
    }
  }
});
