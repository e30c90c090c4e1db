/**
 * `event`: something that happened (docs/protocol.md section 6.4).
 * @module event
 */
import { fromWire } from "./arrays.js";
import { BAD_VALUE, WireError } from "./errors.js";
import { readMap, readOptionalInt, readStr } from "./fields.js";
import { unpackEnvelope } from "./envelope.js";

export const KIND = "event";

/** The event of a decoded envelope: `type` (str), `twin_id` (int or null), `data` (object). */
export function fromEnvelope(env) {
  const type = readStr(env.body, "type", "body");
  if (!type || type.includes("/")) {
    throw new WireError(BAD_VALUE, "field 'body.type' must be non-empty and without '/'");
  }
  const twinId = readOptionalInt(env.body, "twin", "body");
  const data = fromWire(readMap(env.body, "data", "body"), "body.data");
  return { tick: env.tick, seq: env.seq, t_s: env.t_s, type, twin_id: twinId, data };
}

/** Decode and check an event payload. */
export function decode(bytes) {
  return fromEnvelope(unpackEnvelope(bytes, KIND));
}
