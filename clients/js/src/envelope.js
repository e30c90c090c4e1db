/**
 * The envelope every message travels in (docs/protocol.md section 4.2): a msgpack map
 * `{v, kind, tick, seq, t, body}`, checked in that order.
 * @module envelope
 */
import {
  BAD_VERSION,
  MsgFloat,
  NOT_A_MAP,
  UNKNOWN_KIND,
  WRONG_KIND,
  WireError,
  clip,
  typeName,
} from "./errors.js";
import { readFloat, readInt, readMap, readStr } from "./fields.js";
import { pack, unpack } from "./msgpack.js";

export const PROTOCOL_VERSION = 1;
export const KINDS = ["crowd", "pose", "vitals", "event", "meta", "request", "reply", "shape"];

/**
 * @typedef {object} Envelope
 * @property {string} kind one of KINDS
 * @property {number | bigint} tick simulation tick
 * @property {number | bigint} seq publisher sequence number
 * @property {number} t_s simulation time, s since the epoch
 * @property {Map} body the kind's fields, as msgpack decoded them
 */

/**
 * Parse and check the envelope of `bytes`; with `kind`, require that kind.
 * @param {Uint8Array} bytes the payload
 * @param {string | null} [kind] the kind required, or null for any
 * @param {number | null} [maxItems] most items of any array or map (section 4.4)
 * @returns {Envelope}
 * @throws {WireError}
 */
export function unpackEnvelope(bytes, kind = null, maxItems = null) {
  const obj = unpack(bytes, maxItems);
  if (!(obj instanceof Map)) throw new WireError(NOT_A_MAP, `payload must be a map, got ${typeName(obj)}`);
  const version = readInt(obj, "v");
  if (version !== PROTOCOL_VERSION) {
    throw new WireError(
      BAD_VERSION,
      `protocol version ${version} is not supported (expected ${PROTOCOL_VERSION})`,
    );
  }
  const got = readStr(obj, "kind");
  if (!KINDS.includes(got)) throw new WireError(UNKNOWN_KIND, `unknown kind '${clip(got)}'`);
  if (kind !== null && got !== kind) {
    throw new WireError(WRONG_KIND, `expected kind '${kind}', got '${got}'`);
  }
  return {
    kind: got,
    tick: readInt(obj, "tick", "", 0),
    seq: readInt(obj, "seq", "", 0),
    t_s: readFloat(obj, "t"),
    body: readMap(obj, "body"),
  };
}

/**
 * The payload of one message (`t` as float64).
 * @param {string} kind
 * @param {number} tick
 * @param {number} seq
 * @param {number} tS
 * @param {object} body
 * @returns {Uint8Array}
 */
export function packEnvelope(kind, tick, seq, tS, body) {
  return pack({ v: PROTOCOL_VERSION, kind, tick, seq, t: new MsgFloat(tS), body });
}
