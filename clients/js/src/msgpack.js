/**
 * A msgpack reader and writer of the values the protocol uses (docs/protocol.md section 4.1).
 *
 * Reading: nil -> null, bool -> boolean, int -> number (BigInt beyond 2^53 - 1 in magnitude),
 * float -> MsgFloat (unboxed by the field readers), str -> string, bin -> Uint8Array (a view
 * over the payload, no copy), array -> Array, map -> Map (any key type, insertion order),
 * ext -> MsgExt. Errors are WireErrors with the protocol's exact messages: `payload is not
 * msgpack`, `payload is truncated`, `payload has {n} trailing bytes`, and with limits the
 * `too_large` ones of section 4.4.
 * @module msgpack
 */
import {
  MsgExt,
  MsgFloat,
  NOT_MSGPACK,
  TOO_LARGE,
  TRUNCATED,
  WireError,
} from "./errors.js";

/** Deepest nesting read (as the reference decoder's stack). */
export const MAX_DEPTH = 1024;
/** With maxItems, a payload's arrays and maps hold at most this many times maxItems in all. */
export const TOTAL_ITEMS_FACTOR = 5;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

class Reader {
  /**
   * @param {Uint8Array} bytes
   * @param {number | null} maxItems
   */
  constructor(bytes, maxItems) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
    this.maxItems = maxItems;
    this.left = maxItems === null ? Infinity : TOTAL_ITEMS_FACTOR * maxItems;
  }

  need(n) {
    if (this.at + n > this.bytes.length) throw new WireError(TRUNCATED, "payload is truncated");
    const at = this.at;
    this.at += n;
    return at;
  }

  u8() {
    return this.bytes[this.need(1)];
  }

  u16() {
    return this.view.getUint16(this.need(2));
  }

  u32() {
    return this.view.getUint32(this.need(4));
  }

  int(big) {
    if (big > SAFE || big < -SAFE) return big;
    return Number(big);
  }

  raw(n) {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }

  str(n) {
    try {
      return utf8.decode(this.raw(n));
    } catch (err) {
      if (err instanceof WireError) throw err;
      throw new WireError(NOT_MSGPACK, "payload is not msgpack");
    }
  }

  count(n, what) {
    if (this.maxItems !== null && n > this.maxItems) {
      const held = what === "array" ? `an array of ${n} items` : `a map of ${n} entries`;
      throw new WireError(TOO_LARGE, `payload holds ${held}, more than ${this.maxItems}`);
    }
  }

  spend(n) {
    this.left -= 1 + n;
    if (this.left < 0) {
      const limit = TOTAL_ITEMS_FACTOR * this.maxItems;
      throw new WireError(TOO_LARGE, `payload holds more than ${limit} items in all`);
    }
  }

  array(n, depth) {
    this.count(n, "array");
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    this.spend(n);
    return out;
  }

  map(n, depth) {
    this.count(n, "map");
    const out = new Map();
    for (let i = 0; i < n; i++) {
      const key = this.value(depth + 1);
      out.set(key, this.value(depth + 1));
    }
    this.spend(n);
    return out;
  }

  ext(n) {
    const type = this.view.getInt8(this.need(1));
    return new MsgExt(type, this.raw(n));
  }

  value(depth) {
    if (depth > MAX_DEPTH) {
      throw new WireError(TOO_LARGE, `payload nests deeper than ${MAX_DEPTH} levels`);
    }
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b >= 0x80 && b <= 0x8f) return this.map(b & 0x0f, depth);
    if (b >= 0x90 && b <= 0x9f) return this.array(b & 0x0f, depth);
    if (b >= 0xa0 && b <= 0xbf) return this.str(b & 0x1f);
    const v = this.view;
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.raw(this.u8());
      case 0xc5: return this.raw(this.u16());
      case 0xc6: return this.raw(this.u32());
      case 0xc7: return this.ext(this.u8());
      case 0xc8: return this.ext(this.u16());
      case 0xc9: return this.ext(this.u32());
      case 0xca: return new MsgFloat(v.getFloat32(this.need(4)));
      case 0xcb: return new MsgFloat(v.getFloat64(this.need(8)));
      case 0xcc: return this.u8();
      case 0xcd: return this.u16();
      case 0xce: return this.u32();
      case 0xcf: return this.int(v.getBigUint64(this.need(8)));
      case 0xd0: return v.getInt8(this.need(1));
      case 0xd1: return v.getInt16(this.need(2));
      case 0xd2: return v.getInt32(this.need(4));
      case 0xd3: return this.int(v.getBigInt64(this.need(8)));
      case 0xd4: return this.ext(1);
      case 0xd5: return this.ext(2);
      case 0xd6: return this.ext(4);
      case 0xd7: return this.ext(8);
      case 0xd8: return this.ext(16);
      case 0xd9: return this.str(this.u8());
      case 0xda: return this.str(this.u16());
      case 0xdb: return this.str(this.u32());
      case 0xdc: return this.array(this.u16(), depth);
      case 0xdd: return this.array(this.u32(), depth);
      case 0xde: return this.map(this.u16(), depth);
      case 0xdf: return this.map(this.u32(), depth);
      default: throw new WireError(NOT_MSGPACK, "payload is not msgpack"); // 0xc1
    }
  }
}

/**
 * Read exactly one msgpack value from `bytes`.
 * @param {Uint8Array} bytes the payload
 * @param {number | null} [maxItems] most items of any array or map (section 4.4); null: none
 * @returns {unknown}
 * @throws {WireError} not_msgpack, truncated or too_large
 */
export function unpack(bytes, maxItems = null) {
  const reader = new Reader(bytes, maxItems);
  const value = reader.value(1);
  const extra = bytes.length - reader.at;
  if (extra > 0) throw new WireError(NOT_MSGPACK, `payload has ${extra} trailing bytes`);
  return value;
}

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.view = new DataView(this.buf.buffer);
    this.at = 0;
  }

  room(n) {
    if (this.at + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    grown.set(this.buf.subarray(0, this.at));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  head(fixBase, fixMax, c8, c16, c32, n) {
    this.room(5);
    if (fixBase !== null && n <= fixMax) {
      this.buf[this.at++] = fixBase | n;
    } else if (c8 !== null && n < 0x100) {
      this.buf[this.at++] = c8;
      this.buf[this.at++] = n;
    } else if (n < 0x10000) {
      this.buf[this.at++] = c16;
      this.view.setUint16(this.at, n);
      this.at += 2;
    } else {
      this.buf[this.at++] = c32;
      this.view.setUint32(this.at, n);
      this.at += 4;
    }
  }

  bytes(data) {
    this.room(data.length);
    this.buf.set(data, this.at);
    this.at += data.length;
  }

  integer(n) {
    this.room(9);
    const big = BigInt(n);
    if (big >= 0n && big < 0x80n) {
      this.buf[this.at++] = Number(big);
    } else if (big < 0n && big >= -32n) {
      this.buf[this.at++] = Number(big) & 0xff;
    } else if (big >= 0n && big < 0x100000000n) {
      this.buf[this.at++] = 0xce;
      this.view.setUint32(this.at, Number(big));
      this.at += 4;
    } else if (big < 0n && big >= -0x80000000n) {
      this.buf[this.at++] = 0xd2;
      this.view.setInt32(this.at, Number(big));
      this.at += 4;
    } else if (big >= 0n) {
      this.buf[this.at++] = 0xcf;
      this.view.setBigUint64(this.at, big);
      this.at += 8;
    } else {
      this.buf[this.at++] = 0xd3;
      this.view.setBigInt64(this.at, big);
      this.at += 8;
    }
  }

  value(value) {
    if (value === null || value === undefined) {
      this.room(1);
      this.buf[this.at++] = 0xc0;
    } else if (typeof value === "boolean") {
      this.room(1);
      this.buf[this.at++] = value ? 0xc3 : 0xc2;
    } else if (typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value))) {
      this.integer(value);
    } else if (typeof value === "number" || value instanceof MsgFloat) {
      this.room(9);
      this.buf[this.at++] = 0xcb;
      this.view.setFloat64(this.at, typeof value === "number" ? value : value.value);
      this.at += 8;
    } else if (typeof value === "string") {
      const data = new TextEncoder().encode(value);
      this.head(0xa0, 31, 0xd9, 0xda, 0xdb, data.length);
      this.bytes(data);
    } else if (value instanceof Uint8Array) {
      this.head(null, 0, 0xc4, 0xc5, 0xc6, value.length);
      this.bytes(value);
    } else if (Array.isArray(value)) {
      this.head(0x90, 15, null, 0xdc, 0xdd, value.length);
      for (const item of value) this.value(item);
    } else {
      const entries = value instanceof Map ? [...value] : Object.entries(value);
      this.head(0x80, 15, null, 0xde, 0xdf, entries.length);
      for (const [key, item] of entries) {
        this.value(key);
        this.value(item);
      }
    }
  }
}

/**
 * The msgpack bytes of `value`: integers (number or BigInt) as the smallest fixint or 64-bit
 * int, other numbers and MsgFloat as float64, Uint8Array as bin, Map or object as map.
 * @param {unknown} value
 * @returns {Uint8Array}
 */
export function pack(value) {
  const writer = new Writer();
  writer.value(value);
  return writer.buf.slice(0, writer.at);
}
