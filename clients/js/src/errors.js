/**
 * WireError: why a payload was rejected, as a stable code and an exact message
 * (docs/protocol.md section 10; the same strings as the Python decoder, net/wire/errors.py).
 * @module errors
 */

/** Most characters of input text an error message quotes. */
export const ECHO_CHARS = 64;

export const NOT_MSGPACK = "not_msgpack";
export const TRUNCATED = "truncated";
export const NOT_A_MAP = "not_a_map";
export const BAD_VERSION = "bad_version";
export const UNKNOWN_KIND = "unknown_kind";
export const WRONG_KIND = "wrong_kind";
export const MISSING_FIELD = "missing_field";
export const WRONG_TYPE = "wrong_type";
export const LENGTH_MISMATCH = "length_mismatch";
export const BAD_VALUE = "bad_value";
export const UNKNOWN_BASE = "unknown_base";
export const TOO_LARGE = "too_large";

/** A payload that does not follow the protocol: `code` (one of the constants above), `message`. */
export class WireError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = "WireError";
    this.code = code;
    this.message = message;
  }
}

/**
 * A float as msgpack decoded it: msgpack ints and floats are both JS numbers, and the protocol
 * tells them apart (an `int` field refuses a float), so floats are boxed until a reader unboxes
 * them. Encoders use it to write a whole number as float64.
 */
export class MsgFloat {
  /** @param {number} value */
  constructor(value) {
    this.value = value;
  }
}

/** A msgpack ext value (never valid in the protocol; named `ext` in errors). */
export class MsgExt {
  /**
   * @param {number} type
   * @param {Uint8Array} data
   */
  constructor(type, data) {
    this.type = type;
    this.data = data;
  }
}

/**
 * The msgpack family of a decoded value (raw, or converted by fromWire), as messages name it.
 * @param {unknown} value
 * @returns {string} nil, bool, int, float, str, bin, array, map or ext
 */
export function typeName(value) {
  if (value === null) return "nil";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "bigint") return "int";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float"; // unboxed
  if (value instanceof MsgFloat) return "float";
  if (typeof value === "string") return "str";
  if (value instanceof Uint8Array) return "bin";
  if (Array.isArray(value)) return "array";
  if (value instanceof MsgExt || typeof value !== "object") return "ext";
  return "map"; // a Map, a plain object or an NdArray (an array map on the wire)
}

/**
 * `text` cut to ECHO_CHARS characters (the first ECHO_CHARS - 3 and `...`), as Python's `clip`
 * (characters are Unicode code points).
 * @param {unknown} text
 */
export function clip(text) {
  const chars = Array.from(String(text));
  if (chars.length <= ECHO_CHARS) return chars.join("");
  return chars.slice(0, ECHO_CHARS - 3).join("") + "...";
}
