/**
 * `reply`: the server's answer to a request (docs/protocol.md section 6.7).
 * @module reply
 */
import { fromWire } from "./arrays.js";
import { readBool, readInt, readMap, readOptionalInt, readStr } from "./fields.js";
import { unpackEnvelope } from "./envelope.js";

export const KIND = "reply";

/**
 * The reply of a decoded envelope: `id` (int or null), `ok`, `result` (object, or null when
 * not ok), `error` (`{code, message, retry_after_ms}`, or null when ok).
 */
export function fromEnvelope(env) {
  const body = env.body;
  const id = readOptionalInt(body, "id", "body");
  const ok = readBool(body, "ok", "body");
  const head = { tick: env.tick, seq: env.seq, t_s: env.t_s, id, ok };
  if (ok) return { ...head, result: fromWire(readMap(body, "result", "body"), "body.result"), error: null };
  const error = readMap(body, "error", "body");
  const code = readStr(error, "code", "body.error");
  const message = readStr(error, "message", "body.error");
  const retry = error.has("retry_after_ms") ? readInt(error, "retry_after_ms", "body.error", 0) : null;
  return { ...head, result: null, error: { code, message, retry_after_ms: retry } };
}

/** Decode and check a reply payload. */
export function decode(bytes) {
  return fromEnvelope(unpackEnvelope(bytes, KIND));
}
