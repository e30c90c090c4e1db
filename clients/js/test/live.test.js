// Against a live `twin serve` over the gateway's WebSocket (tests/test_js_client.py starts the
// server and sets SYNTHTWIN_WS_URL; skipped without it): late join compared with the roster,
// requests and their errors, a twin's topics, and (with SYNTHTWIN_MEASURE_OUT, for
// bench/test_websocket_bench.py) the time each crowd message was decoded and the payloads.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";

import { LiveClone, RequestError, SynthTwinSocket, WsClone } from "../src/client.js";

const URL = process.env.SYNTHTWIN_WS_URL;
const MEASURE_OUT = process.env.SYNTHTWIN_MEASURE_OUT;
const JOINED_FILE = process.env.SYNTHTWIN_JOINED_FILE;
const skip = URL === undefined ? "SYNTHTWIN_WS_URL is not set" : false;
const Impl = globalThis.WebSocket ?? (await import("ws")).WebSocket;

const connect = () => SynthTwinSocket.connect(URL, { WebSocket: Impl });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const nowMs = () => performance.timeOrigin + performance.now();

test("a late joiner holds every twin of the roster, once, and applies every live message", { skip }, async () => {
  const socket = await connect();
  try {
    const clone = await WsClone.join(socket, ["cell/", "meta"]);
    let applied = 0;
    clone.onApplied = (msg) => {
      if (msg.kind === "crowd") applied += 1;
    };
    await sleep(1500);
    assert.ok(applied > 0, "no crowd message after the snapshot");
    assert.equal(clone.replica.rejected, 0, `${clone.replica.lastError}`);
    const crowd = clone.replica.crowd();
    const roster = [...clone.replica.roster].sort((a, b) => a - b);
    assert.deepEqual(Array.from(crowd.ids.data), roster);
    assert.ok(clone.replica.tables.activities.includes("sleep"));
    for (let i = 0; i < crowd.ids.length; i++) assert.ok(crowd.activity.data[i] < 16);
  } finally {
    socket.close();
  }
});

test("requests are matched by id; a failed one says why", { skip }, async () => {
  const socket = await connect();
  try {
    const [stats, town] = await Promise.all([socket.call("stats"), socket.call("town")]);
    assert.ok(stats.twins > 0 && stats.tick > 0);
    assert.equal(town.xy_m.shape[1], 2);
    await assert.rejects(socket.call("twin", { id: 2 ** 32 + 1 }), (err) => {
      assert.ok(err instanceof RequestError);
      assert.equal(err.code, "out_of_range");
      return true;
    });
    await assert.rejects(socket.subscribe("é"), /subscribe/);
  } finally {
    socket.close();
  }
});

test("a twin's topics bring its pose, vitals and body", { skip }, async () => {
  const socket = await connect();
  try {
    const twin = (await socket.call("roster")).ids.data[0];
    const clone = await WsClone.join(socket, [`twin/${twin}/`], []);
    const all = () => ["poses", "vitals", "bodies"].every((held) => clone.replica[held].has(twin));
    for (let i = 0; i < 50 && !all(); i++) await sleep(100);
    assert.equal(clone.replica.poses.get(twin).quat.length, 24 * 4);
    const body = clone.replica.bodies.get(twin);
    assert.ok(["female", "male"].includes(body.model), body.model);
    assert.equal(body.betas.length, 10);
    const hr = clone.replica.vitals.get(twin).hr_bpm;
    assert.ok(hr >= 30 && hr <= 220, `${hr}`);
  } finally {
    socket.close();
  }
});

test("reconnect: joins again after the gateway restarts", { skip: skip || !JOINED_FILE }, async () => {
  // tests/test_js_client.py kills the gateway once JOINED_FILE exists; the server restarts it
  const live = await LiveClone.start(URL, ["cell/", "meta"], { WebSocket: Impl });
  try {
    writeFileSync(JOINED_FILE, "joined");
    for (let i = 0; i < 600 && live.joins < 2; i++) await sleep(100);
    assert.equal(live.joins, 2);
    await sleep(1000);
    const roster = [...live.replica.roster].sort((a, b) => a - b);
    assert.deepEqual(Array.from(live.replica.crowd().ids.data), roster);
    assert.equal(live.replica.rejected, 0);
  } finally {
    live.close();
  }
});

test("measure: when each crowd message is decoded, and the payloads for bench/decode.js", { skip: skip || !MEASURE_OUT }, async () => {
  const socket = await connect();
  const decodedAtMs = {};
  const payloads = [];
  try {
    const clone = await WsClone.join(socket, ["cell/"]);
    socket.onPublish = (topic, payload) => {
      const msg = clone.replica.receive(payload);
      if (msg !== null && msg.kind === "crowd") {
        decodedAtMs[msg.seq] = nowMs();
        payloads.push(payload.slice());
      }
    };
    await sleep(Number(process.env.SYNTHTWIN_MEASURE_S ?? 3) * 1000);
  } finally {
    socket.close();
  }
  assert.ok(payloads.length > 0);
  const sizes = new Uint8Array(4 * payloads.length);
  const view = new DataView(sizes.buffer);
  payloads.forEach((payload, i) => view.setUint32(4 * i, payload.length, true));
  writeFileSync(`${MEASURE_OUT}.payloads`, Buffer.concat(payloads.flatMap((p, i) => [sizes.subarray(4 * i, 4 * i + 4), p])));
  writeFileSync(MEASURE_OUT, JSON.stringify({ decoded_at_ms: decodedAtMs }));
});
