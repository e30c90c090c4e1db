/**
 * Numeric arrays on the wire (docs/protocol.md section 4.3): a map
 * `{"dtype": str, "shape": [int], "data": bin}` with the elements in C order, little-endian.
 * Decoded to an NdArray whose `data` is a TypedArray over the payload's bytes when they are
 * aligned for it, else over a copy; 64-bit integers as BigInt64Array / BigUint64Array.
 * @module arrays
 */
import {
  BAD_VALUE,
  ECHO_CHARS,
  LENGTH_MISMATCH,
  MsgFloat,
  TOO_LARGE,
  WRONG_TYPE,
  WireError,
  clip,
  typeName,
} from "./errors.js";
import { fieldPath, isInt, readList, readStr, require } from "./fields.js";

/** Each protocol dtype's TypedArray. */
export const DTYPES = {
  "|u1": Uint8Array,
  "|i1": Int8Array,
  "<u2": Uint16Array,
  "<i2": Int16Array,
  "<u4": Uint32Array,
  "<i4": Int32Array,
  "<u8": BigUint64Array,
  "<i8": BigInt64Array,
  "<f4": Float32Array,
  "<f8": Float64Array,
};
/** Most dimensions of a shape, and the largest dimension. */
export const MAX_DIMS = 32;
export const MAX_DIM = 2 ** 32 - 1;
/** Deepest nesting of maps and arrays in args, result or data that fromWire reads by default. */
export const MAX_NESTING = 32;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("synthtwin: this decoder needs a little-endian host");
}

/** A decoded numeric array: `dtype` (a protocol dtype), `shape` (numbers), `data` (TypedArray). */
export class NdArray {
  constructor(dtype, shape, data) {
    this.dtype = dtype;
    this.shape = shape;
    this.data = data;
  }

  /** Rows: the first dimension. */
  get length() {
    return this.shape[0];
  }
}

function readShape(m, path) {
  const shape = readList(m, "shape", path);
  if (!shape.every((d) => isInt(d) && d >= 0)) {
    throw new WireError(WRONG_TYPE, `field '${path}.shape' must be an array of int >= 0`);
  }
  if (shape.length > MAX_DIMS || shape.some((d) => d > MAX_DIM)) {
    throw new WireError(
      TOO_LARGE,
      `field '${path}.shape' must have at most ${MAX_DIMS} dimensions of at most ${MAX_DIM}`,
    );
  }
  return shape;
}

/** The array of a validated array map; `dtype` null accepts any protocol dtype. */
function arrayFromMap(m, path, dtype) {
  const got = readStr(m, "dtype", path);
  if (dtype !== null && got !== dtype) {
    throw new WireError(WRONG_TYPE, `field '${path}' must be an array of ${dtype}, got ${clip(got)}`);
  }
  const Typed = Object.hasOwn(DTYPES, got) ? DTYPES[got] : null;
  if (Typed === null) throw new WireError(WRONG_TYPE, `field '${path}' has unsupported dtype ${clip(got)}`);
  const shape = readShape(m, path);
  const data = require(m, "data", path);
  if (!(data instanceof Uint8Array)) {
    throw new WireError(WRONG_TYPE, `field '${path}.data' must be bin, got ${typeName(data)}`);
  }
  const size = Typed.BYTES_PER_ELEMENT;
  const need = shape.reduce((a, d) => a * BigInt(d), 1n) * BigInt(size);
  if (BigInt(data.length) !== need) {
    throw new WireError(
      LENGTH_MISMATCH,
      `field '${path}' holds ${data.length} bytes, expected ${need} for shape [${shape.join(", ")}] of ${got}`,
    );
  }
  const bytes = data.byteOffset % size === 0 ? data : data.slice();
  const typed = new Typed(bytes.buffer, bytes.byteOffset, data.length / size);
  return new NdArray(got, shape.map(Number), typed);
}

function shapeText(trailing) {
  return `[${["n", ...trailing.map((t) => (t === null ? "*" : String(t)))].join(", ")}]`;
}

/**
 * The array field `m.get(key)`: dtype `dtype`, shape `(n, ...trailing)` for any n (null in
 * `trailing`: any size on that axis).
 * @returns {NdArray}
 */
export function readArray(m, key, prefix, dtype, trailing = []) {
  const path = fieldPath(prefix, key);
  const value = require(m, key, prefix);
  if (!(value instanceof Map)) {
    throw new WireError(WRONG_TYPE, `field '${path}' must be an array map, got ${typeName(value)}`);
  }
  const arr = arrayFromMap(value, path, dtype);
  const fits =
    arr.shape.length === 1 + trailing.length &&
    trailing.every((t, i) => t === null || t === arr.shape[i + 1]);
  if (!fits) {
    throw new WireError(
      WRONG_TYPE,
      `field '${path}' must have shape ${shapeText(trailing)}, got [${arr.shape.join(", ")}]`,
    );
  }
  return arr;
}

/** length_mismatch unless `arr` has `rows` rows (one per id). */
export function checkRows(arr, path, rows) {
  if (arr.shape[0] !== rows) {
    throw new WireError(LENGTH_MISMATCH, `field '${path}' has ${arr.shape[0]} rows, expected ${rows}`);
  }
}

/** bad_value unless the (n,) array is strictly ascending. */
export function checkAscending(arr, path) {
  const d = arr.data;
  for (let i = 1; i < d.length; i++) {
    if (!(d[i] > d[i - 1])) throw new WireError(BAD_VALUE, `field '${path}' must be strictly ascending`);
  }
}

const ARRAY_KEYS = ["dtype", "shape", "data"];

function isArrayMap(m) {
  return m.size === 3 && ARRAY_KEYS.every((k) => m.has(k));
}

function pathText(where) {
  const parts = [];
  while (typeof where !== "string") {
    const [parent, key, isIndex] = where;
    parts.push(isIndex ? `[${key}]` : `.${clip(key)}`);
    where = parent;
  }
  const text = where + parts.reverse().join("");
  const most = 2 * ECHO_CHARS;
  return text.length <= most ? text : `${text.slice(0, most - 3)}...`;
}

/**
 * A plain JS value of a decoded msgpack value: every array map an NdArray, maps objects,
 * floats numbers (section 4.3: "any map of exactly these three keys is an array").
 * @param {unknown} value the decoded value (args, result or data)
 * @param {string} path its path, for errors: `body.args`
 * @param {number} [maxNesting] deepest nesting below `value` (itself level 0)
 * @throws {WireError} an array map's error; too_large when nested deeper than maxNesting
 */
export function fromWire(value, path, maxNesting = MAX_NESTING) {
  const convert = (item, where, left) => {
    if (item instanceof MsgFloat) return item.value;
    if (!(item instanceof Map) && !Array.isArray(item)) return item;
    if (left < 0) throw new WireError(TOO_LARGE, `field '${path}' nests deeper than ${maxNesting} levels`);
    if (Array.isArray(item)) return item.map((x, i) => convert(x, [where, i, true], left - 1));
    if (isArrayMap(item)) return arrayFromMap(item, pathText(where), null);
    const out = {};
    for (const [key, x] of item) out[String(key)] = convert(x, [where, key, false], left - 1);
    return out;
  };
  return convert(value, path, maxNesting);
}
