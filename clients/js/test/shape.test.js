// `shape` (docs/protocol.md section 6.8): the vector written by hand from the document's tables
// and the generated one decode to their values, a bad model code fails with its exact error, and
// a Replica keeps each followed twin's body (and forgets it when meta removes the twin).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { Replica } from "../src/clone.js";
import * as shape from "../src/shape.js";

const WIRE =
  process.env.SYNTHTWIN_GOLDEN !== undefined
    ? join(process.env.SYNTHTWIN_GOLDEN, "wire")
    : join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "tests", "golden", "wire");
const json = (name) => JSON.parse(readFileSync(join(WIRE, name), "utf8"));
const bytes = (name) => new Uint8Array(readFileSync(join(WIRE, name)));

test("the shape vector written by hand decodes to its values", () => {
  const doc = json("by_hand/shape.json");
  assert.equal(doc.kind, "shape");
  const data = Uint8Array.from(Buffer.from(doc.bytes.map(([hex]) => hex).join("").replace(/ /g, ""), "hex"));
  const msg = shape.decode(data);
  assert.deepEqual(
    { tick: msg.tick, seq: msg.seq, t_s: msg.t_s, ids: Array.from(msg.ids.data), model: Array.from(msg.model.data) },
    { tick: 7, seq: 11, t_s: 1.5, ids: [5], model: [1] },
  );
  assert.deepEqual(msg.betas.shape, [1, 2]);
  assert.deepEqual(Array.from(msg.betas.data), doc.values.betas.flat());
  assert.deepEqual(shape.bodies(msg).get(5).model, "male");
});

test("a model code of 3 is bad_value with the document's message", () => {
  const doc = json("invalid_shape_model.json");
  assert.throws(() => shape.decode(bytes(doc.file)), { name: "WireError", code: doc.error.code, message: doc.error.message });
});

test("a replica keeps each twin's body from its shape messages until meta removes the twin", () => {
  const replica = new Replica();
  const msg = replica.receive(bytes("shape.bin"));
  assert.equal(msg.kind, "shape");
  const values = json("shape.json").values;
  assert.deepEqual([...replica.bodies.keys()], values.ids);
  values.ids.forEach((id, i) => {
    const body = replica.bodies.get(id);
    assert.equal(body.model, shape.MODELS[values.model[i]]);
    assert.deepEqual(Array.from(body.betas), values.betas[i]);
  });
  replica.apply({ kind: "meta", protocol: 1, epoch: "", activities: [], clips: [], added: { data: [] }, removed: { data: [12] } });
  assert.deepEqual([...replica.bodies.keys()], [40]);
});
