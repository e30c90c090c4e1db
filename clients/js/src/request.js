/**
 * `request`: an operation for the server's ROUTER (docs/protocol.md section 6.6), and its
 * encoder (what a client sends).
 * @module request
 */
import { MAX_NESTING, fromWire } from "./arrays.js";
import { readInt, readMap, readStr } from "./fields.js";
import { packEnvelope, unpackEnvelope } from "./envelope.js";

export const KIND = "request";

/** The request of a decoded envelope: `id`, `op`, `args` (object), `token` (str or null). */
export function fromEnvelope(env, maxNesting = MAX_NESTING) {
  const id = readInt(env.body, "id", "body", 0);
  const op = readStr(env.body, "op", "body");
  // absent: no arguments (protocol section 6.6)
  const args = env.body.has("args") ? fromWire(readMap(env.body, "args", "body"), "body.args", maxNesting) : {};
  const token = env.body.has("token") ? readStr(env.body, "token", "body") : null;
  return { id, op, args, tick: env.tick, seq: env.seq, t_s: env.t_s, token };
}

/**
 * Decode and check a request payload.
 * @param {Uint8Array} bytes
 * @param {{maxItems?: number | null, maxNesting?: number}} [limits]
 */
export function decode(bytes, limits = {}) {
  const env = unpackEnvelope(bytes, KIND, limits.maxItems ?? null);
  return fromEnvelope(env, limits.maxNesting ?? MAX_NESTING);
}

/**
 * The payload of a request (`token` only when given). `args` values: integers as numbers or
 * BigInt, other numbers as float64, arrays of them, objects.
 * @param {{id: number, op: string, args?: object, token?: string | null,
 *          tick?: number, seq?: number, t_s?: number}} request
 * @returns {Uint8Array}
 */
export function encode({ id, op, args = {}, token = null, tick = 0, seq = 0, t_s = 0 }) {
  const body = { id, op, args };
  if (token !== null) body.token = token;
  return packEnvelope(KIND, tick, seq, t_s, body);
}
