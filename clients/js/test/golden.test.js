// Every golden vector of tests/golden/wire/ (docs/protocol.md section 11), chat/ and history/:
// each valid file decodes to its `values` (and its msgpack to its `payload`), each invalid one
// fails with exactly its `error` (but history's invalid arguments: the server's checks, see
// SERVER_ONLY). Also: every truncation of every valid payload fails with a WireError only.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { DTYPES, NdArray } from "../src/arrays.js";
import { ChatArgsError, readArgs, readEvent, readResult } from "../src/chat.js";
import { mergeCells } from "../src/clone.js";
import { CrowdDecoder, positionAt } from "../src/crowd.js";
import { DECODERS, decodeAny } from "../src/decode.js";
import { MsgFloat, WireError } from "../src/errors.js";
import * as event from "../src/event.js";
import { unpack } from "../src/msgpack.js";
import * as reply from "../src/reply.js";
import * as request from "../src/request.js";

const GOLDEN_ROOT =
  process.env.SYNTHTWIN_GOLDEN ?? join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "tests", "golden");
const FOLDERS = ["wire", "chat", "history"];

/** The decoders of the cases beside the wire's (tests/golden/chat and history, make_golden.py). */
const OP_DECODERS = {
  chat_request: (data) => readArgs(request.decode(data).args),
  chat_reply: (data) => readResult(reply.decode(data).result),
  chat_event: (data) => readEvent(event.decode(data)),
  history_request: (data) => request.decode(data).args,
  history_reply: (data) => reply.decode(data).result,
  alert_event: (data) => event.decode(data),
};
/** history_request's invalid cases are the server's checks of the op's arguments
 * (net/history_requests.py: dates, ranges), not decoding: a client has no such rules. */
const SERVER_ONLY = (folder, doc) => folder === "history" && doc.error !== undefined;

function cases(folder) {
  const dir = join(GOLDEN_ROOT, folder);
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => {
      const doc = JSON.parse(readFileSync(join(dir, name), "utf8").replace(/\bNaN\b/g, '"NaN"'));
      return { folder, name, doc, read: (file) => new Uint8Array(readFileSync(join(dir, file))) };
    });
}
const CASES = FOLDERS.flatMap(cases).filter(({ folder, doc }) => !SERVER_ONLY(folder, doc));

function run({ doc, read }) {
  const data = read(doc.file);
  if (doc.decoder === "crowd_state" || doc.decoder === "crowd_merge") {
    const decoder = new CrowdDecoder();
    for (const name of doc.apply) decoder.apply(read(name));
    const state = decoder.apply(data);
    return doc.decoder === "crowd_state" ? state : mergeCells(decoder.states());
  }
  if (doc.decoder === "any") return decodeAny(data);
  const decoder = DECODERS[doc.decoder] ?? OP_DECODERS[doc.decoder];
  assert.ok(decoder, `no decoder '${doc.decoder}' in this test: add it to OP_DECODERS`);
  return decoder(data);
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
  } else if (expected === "NaN") {
    assert.ok(Number.isNaN(actual), `${path}: ${actual} is not NaN`);
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

test("the golden folders hold cases", () => assert.ok(CASES.length >= 80, GOLDEN_ROOT));

for (const item of CASES) {
  const { folder, name, doc, read } = item;
  if (name.startsWith("invalid_")) {
    test(`golden ${folder}/${name}`, () => {
      assert.throws(() => run(item), (err) => {
        assert.ok(err instanceof WireError || err instanceof ChatArgsError, `${err}`);
        assert.deepEqual({ code: err.code, message: err.message }, doc.error);
        return true;
      });
    });
  } else {
    test(`golden ${folder}/${name}`, () => {
      if (doc.payload !== undefined) same(toJson(unpack(read(doc.file))), doc.payload, "payload");
      same(toJson(run(item)), doc.values, "values");
    });
  }
}

test("every truncation of every valid payload fails with a WireError only", () => {
  for (const { doc, read } of CASES.filter((c) => !c.name.startsWith("invalid_") && c.doc.payload)) {
    const data = read(doc.file);
    for (let end = 0; end < data.length; end++) {
      assert.throws(() => decodeAny(data.subarray(0, end)), WireError, `${doc.file}[:${end}]`);
    }
  }
});

test("a dead-reckoned twin of the golden delta is where it walked (positionAt)", () => {
  // make_golden.py: twin 12 walked 14 cm north at 1.4 m/s in the 0.1 s after the keyframe, so
  // the delta leaves it out; dead-reckoned, its keyframe record is where it is (7012.34, -3056.64)
  const read = (file) => new Uint8Array(readFileSync(join(GOLDEN_ROOT, "wire", file)));
  const decoder = new CrowdDecoder();
  decoder.apply(read("crowd_keyframe.bin"));
  const state = decoder.apply(read("crowd_delta.bin"));
  const row = [...state.ids.data].indexOf(12);
  assert.equal(state.sample_t_s.data[row], 120.0, "its record is the keyframe's");
  const [x, y] = positionAt(state, row, state.t_s);
  assert.ok(Math.hypot(x - 7012.34, y + 3056.64) <= 0.05, `at ${x}, ${y}`);
  assert.deepEqual(positionAt(state, row, 100.0), [state.pos_m.data[2 * row], state.pos_m.data[2 * row + 1]]);
});
