// Decode throughput of the JavaScript client: crowd payloads recorded from a live server (a file
// of little-endian u32 length + payload records, written by test/live.test.js's measure test)
// applied by fresh CrowdDecoders for `seconds` (those from each cell's first keyframe on); prints
// JSON: cell twins per second (each applied message yields its cell's whole state, ids
// ascending) and the messages applied.
// Usage: node bench/decode.js PAYLOADS [seconds]
import { readFileSync } from "node:fs";

import { CrowdDecoder } from "../src/crowd.js";

const [file, seconds = "2"] = process.argv.slice(2);
const bytes = new Uint8Array(readFileSync(file));
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const recorded = [];
for (let at = 0; at < bytes.length; ) {
  const size = view.getUint32(at, true);
  recorded.push(bytes.subarray(at + 4, at + 4 + size));
  at += 4 + size;
}
// a cell's deltas before its first recorded keyframe cannot be applied: left out
const first = new CrowdDecoder();
const payloads = recorded.filter((payload) => {
  try {
    first.apply(payload);
    return true;
  } catch {
    return false;
  }
});
let twins = 0;
let rounds = 0;
const started = performance.now();
while (performance.now() - started < Number(seconds) * 1000) {
  const decoder = new CrowdDecoder();
  for (const payload of payloads) twins += decoder.apply(payload).ids.length;
  rounds += 1;
}
const elapsedS = (performance.now() - started) / 1000;
console.log(JSON.stringify({ twins_per_s: twins / elapsedS, messages: payloads.length, rounds }));
