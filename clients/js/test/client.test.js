// WsClone over a stand-in socket: what it does when the gateway skips it ahead.
import assert from "node:assert/strict";
import test from "node:test";

import { LiveClone, SynthTwinSocket, WsClone, frame } from "../src/client.js";
import { packEnvelope, unpackEnvelope } from "../src/envelope.js";

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

/** A stand-in WebSocket that answers subscriptions, `roster` (no twins) and `snapshot` (no
 * cells) as a gateway would, and opens after `openMs`. */
class FakeGateway {
  static made = [];
  static openMs = 0;

  constructor(url, protocols) {
    this.listeners = { open: [], message: [], close: [], error: [] };
    this.closed = false;
    FakeGateway.made.push(this);
    setTimeout(() => this.#emit("open", {}), FakeGateway.openMs);
  }

  addEventListener(type, listener, options = {}) {
    const wrapped = options.once
      ? (event) => {
          this.listeners[type] = this.listeners[type].filter((l) => l !== wrapped);
          listener(event);
        }
      : listener;
    this.listeners[type].push(wrapped);
  }

  #emit(type, event) {
    for (const listener of [...this.listeners[type]]) listener(event);
  }

  send(data) {
    if (typeof data === "string") {
      const { op, prefix } = JSON.parse(data);
      setTimeout(() => this.#emit("message", { data: JSON.stringify({ op: `${op}d`, prefix }) }));
      return;
    }
    const body = unpackEnvelope(data.subarray(1), "request").body;
    const id = body.get("id");
    const result =
      body.get("op") === "roster"
        ? { protocol: 1, epoch: "", activities: [], clips: [],
            ids: { dtype: "<u4", shape: [0], data: new Uint8Array(0) } }
        : { crowd: [] };
    const payload = packEnvelope("reply", 1, 1, 0, { id, ok: true, result });
    setTimeout(() => this.#emit("message", { data: frame("", payload).buffer }));
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    setTimeout(() => this.#emit("close", { code: 1000, reason: "" }));
  }
}

test("a LiveClone closed while it joins again closes that connection", async () => {
  FakeGateway.made = [];
  FakeGateway.openMs = 0;
  const live = await LiveClone.start("ws://fake/ws", ["meta"], { WebSocket: FakeGateway, retryMs: 1 });
  assert.equal(live.joins, 1);
  FakeGateway.openMs = 30; // the next connection opens late
  FakeGateway.made[0].close(); // the gateway went away: the LiveClone connects again
  await new Promise((resolve) => setTimeout(resolve, 10));
  live.close(); // ... and is closed before that connection has opened
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(FakeGateway.made.length, 2);
  assert.equal(FakeGateway.made[1].closed, true);
  assert.equal(live.joins, 1);
});

test("a frame's topic has at most 255 bytes (its length is one byte)", () => {
  assert.deepEqual([...frame("ab", new Uint8Array([7]))], [2, 97, 98, 7]);
  assert.equal(frame("x".repeat(255), new Uint8Array(0))[0], 255);
  assert.throws(() => frame("x".repeat(256), new Uint8Array(0)), /topic of 256 bytes, at most 255/);
});
