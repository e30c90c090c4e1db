// WsClone over a stand-in socket: what it does when the gateway skips it ahead.
import assert from "node:assert/strict";
import test from "node:test";

import { SynthTwinSocket, WsClone } from "../src/client.js";

function standIn(roster) {
  return {
    onPublish: () => {},
    onSkipped: () => {},
    subscribe: async (prefix) => ({ op: "subscribed", prefix }),
    request: async (op) =>
      op === "roster"
        ? { ok: true, seq: 1, result: { protocol: 1, epoch: "", activities: [], clips: [], ids: { data: [1, 2] } } }
        : { ok: true, seq: 1, result: { crowd: [] } },
    call: roster,
  };
}

test("a roster re-read after a skip that fails is reported, not an unhandled rejection", async () => {
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const socket = standIn(async () => {
      throw new Error("closed (1006)");
    });
    const clone = await WsClone.join(socket, ["cell/"]);
    const errors = [];
    clone.onError = (err) => errors.push(err.message);
    socket.onSkipped({ op: "skipped", dropped: 3 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(errors, ["closed (1006)"]);
    assert.deepEqual(unhandled, []);
    assert.deepEqual([...clone.replica.roster], [1, 2]); // kept as it was
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});

test("a roster re-read after a skip replaces the roster", async () => {
  const socket = standIn(async () => ({ ids: { data: [2, 5] } }));
  const clone = await WsClone.join(socket, ["cell/"]);
  socket.onSkipped({ op: "skipped", dropped: 1 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual([...clone.replica.roster], [2, 5]);
});

test("a control answer that comes after its timeout is not taken for the next one's", async () => {
  const listeners = {};
  const sent = [];
  const ws = {
    send: (data) => sent.push(data),
    addEventListener: (type, listener) => {
      listeners[type] = listener;
    },
  };
  const socket = new SynthTwinSocket(ws, 30);
  await assert.rejects(socket.subscribe("cell/"), /no answer to subscribe 'cell\/'/);
  const next = socket.subscribe("meta");
  listeners.message({ data: JSON.stringify({ op: "subscribed", prefix: "cell/" }) }); // late
  listeners.message({ data: JSON.stringify({ op: "subscribed", prefix: "meta" }) });
  assert.deepEqual(await next, { op: "subscribed", prefix: "meta" });
  assert.equal(sent.length, 2);
});
