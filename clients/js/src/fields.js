/**
 * Typed readers of msgpack map fields (docs/protocol.md section 10): each returns the value or
 * throws a WireError. A field is named by its path from the envelope: `tick`, `body.ids`,
 * `body.error.code`. Float fields accept ints; int fields refuse bools and floats.
 * @module fields
 */
import {
  BAD_VALUE,
  MISSING_FIELD,
  MsgFloat,
  WRONG_TYPE,
  WireError,
  typeName,
} from "./errors.js";

/** `"body"` and `"ids"` -> `"body.ids"`; `""` and `"tick"` -> `"tick"`. */
export function fieldPath(prefix, key) {
  return prefix ? `${prefix}.${key}` : key;
}

/** Whether map `m` (a Map as msgpack read it, or an object as fromWire made it) holds `key`. */
export function has(m, key) {
  return m instanceof Map ? m.has(key) : Object.hasOwn(m, key);
}

/** The value of `key` in map `m` (a Map or an object); missing_field if absent. */
export function require(m, key, prefix = "") {
  if (!has(m, key)) throw new WireError(MISSING_FIELD, `missing field '${fieldPath(prefix, key)}'`);
  return m instanceof Map ? m.get(key) : m[key];
}

function wrongType(prefix, key, expected, value) {
  const path = fieldPath(prefix, key);
  return new WireError(WRONG_TYPE, `field '${path}' must be ${expected}, got ${typeName(value)}`);
}

/** Whether a decoded msgpack value is an int (a number or a BigInt, never a float). */
export function isInt(value) {
  return typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value));
}

/** An int field (number, or BigInt beyond 2^53), at least `minimum` when given. */
export function readInt(m, key, prefix = "", minimum = null) {
  const value = require(m, key, prefix);
  if (!isInt(value)) throw wrongType(prefix, key, "int", value);
  if (minimum !== null && value < minimum) {
    const path = fieldPath(prefix, key);
    throw new WireError(BAD_VALUE, `field '${path}' holds ${value}, expected >= ${minimum}`);
  }
  return value;
}

/** An int-or-nil field (the key itself is required). */
export function readOptionalInt(m, key, prefix = "") {
  const value = require(m, key, prefix);
  if (value !== null && !isInt(value)) throw wrongType(prefix, key, "int or nil", value);
  return value;
}

/** A float field as a number; an int is accepted and converted. */
export function readFloat(m, key, prefix = "") {
  const value = require(m, key, prefix);
  if (value instanceof MsgFloat) return value.value;
  if (!isInt(value)) throw wrongType(prefix, key, "float", value);
  return Number(value);
}

/** A str field. */
export function readStr(m, key, prefix = "") {
  const value = require(m, key, prefix);
  if (typeof value !== "string") throw wrongType(prefix, key, "str", value);
  return value;
}

/** A bool field. */
export function readBool(m, key, prefix = "") {
  const value = require(m, key, prefix);
  if (typeof value !== "boolean") throw wrongType(prefix, key, "bool", value);
  return value;
}

/** A map field (a Map, or an object as fromWire made it). */
export function readMap(m, key, prefix = "") {
  const value = require(m, key, prefix);
  if (typeName(value) !== "map") throw wrongType(prefix, key, "map", value);
  return value;
}

/** An array field (a msgpack array, not a numeric array map). */
export function readList(m, key, prefix = "") {
  const value = require(m, key, prefix);
  if (!Array.isArray(value)) throw wrongType(prefix, key, "array", value);
  return value;
}
