/**
 * `crowd`: the animation state of one cell's twins, as keyframes and deltas
 * (docs/protocol.md section 6.1), and CrowdDecoder, the subscriber side that rebuilds each
 * cell's whole crowd (the reference is net/wire/crowd.py).
 * @module crowd
 */
import { DTYPES, NdArray, checkAscending } from "./arrays.js";
import { BAD_VALUE, LENGTH_MISMATCH, UNKNOWN_BASE, WRONG_TYPE, WireError, typeName } from "./errors.js";
import { isInt, readInt, readList, require } from "./fields.js";
import { unpackEnvelope } from "./envelope.js";

export const KIND = "crowd";
/** Side of a cell, m (fixed by protocol version 1). */
export const CELL_SIZE_M = 2000;
export const POS_QUANTUM_M = 0.05;
export const HEADING_CODES = 65536;
export const SPEED_QUANTUM_MPS = 0.1;
export const UNIT_CODES = 255;
export const ACTIVITY_LIMIT = 16;
/** The columns of `rec`, one after the other (protocol 1.1): name, dtype, trailing shape. */
export const REC_COLUMNS = [
  ["pos", "<i2", [2]],
  ["heading", "<u2", []],
  ["speed", "|u1", []],
  ["activity", "|u1", []],
  ["clip", "|u1", []],
  ["phase", "|u1", []],
  ["blend", "|u1", []],
];
/** Bytes of one twin's record. */
export const RECORD_BYTES = 11;

/**
 * @typedef {object} CrowdMessage one crowd message as it travels (quantized codes)
 * @property {number} tick
 * @property {number} seq
 * @property {number} t_s
 * @property {[number, number]} cell [ix, iy]
 * @property {number} base seq of the base keyframe; seq itself for a keyframe
 * @property {NdArray} changed (B,) |u1 bitmask over the base's twins, LSB first
 * @property {NdArray} ids (A,) <u4 ascending, twins not in the base
 * @property {NdArray} gone (G,) <u4 ascending, base twins that left
 * @property {NdArray} pos (R, 2) <i2, offset from the cell centre in 5 cm
 * @property {NdArray} heading (R,) <u2; speed, activity, clip, phase, blend: (R,) |u1
 *
 * On the wire (protocol 1.1) `changed`, `ids` and `gone` are bins, absent when empty, and the
 * R records are one bin `rec` of 11 R bytes: the columns of REC_COLUMNS one after the other.
 */

function popcount(bytes) {
  let n = 0;
  for (let b of bytes) {
    while (b) {
      n += b & 1;
      b >>= 1;
    }
  }
  return n;
}

function readCell(body) {
  const cell = readList(body, "cell", "body");
  if (cell.length !== 2 || !cell.every(isInt)) {
    throw new WireError(WRONG_TYPE, "field 'body.cell' must be an array of 2 int");
  }
  return [Number(cell[0]), Number(cell[1])];
}

/** The bin `body.get(key)`; absent: empty (unless `required`). */
function readBin(body, key, required = false) {
  if (!body.has(key) && !required) return new Uint8Array(0);
  const value = require(body, key, "body");
  if (!(value instanceof Uint8Array)) {
    throw new WireError(WRONG_TYPE, `field 'body.${key}' must be bin, got ${typeName(value)}`);
  }
  return value;
}

/** `count` elements of `Typed` at `offset` of `bytes`: a view when aligned, else a copy. */
function view(bytes, Typed, count, offset = 0) {
  const size = Typed.BYTES_PER_ELEMENT;
  const part = bytes.subarray(offset, offset + count * size);
  const aligned = part.byteOffset % size === 0 ? part : part.slice();
  return new Typed(aligned.buffer, aligned.byteOffset, count);
}

/** `(n,) <u4` ascending, from the optional bin `body.get(key)`. */
function readIds(body, key) {
  const data = readBin(body, key);
  if (data.length % 4) {
    throw new WireError(LENGTH_MISMATCH, `field 'body.${key}' holds ${data.length} bytes, expected a multiple of 4`);
  }
  const ids = new NdArray("<u4", [data.length / 4], view(data, Uint32Array, data.length / 4));
  checkAscending(ids, `body.${key}`);
  return ids;
}

/** The columns of `rec`, each of `rows` rows; activities < 16. */
function readRec(body, rows) {
  const data = readBin(body, "rec", true);
  if (data.length !== RECORD_BYTES * rows) {
    throw new WireError(
      LENGTH_MISMATCH,
      `field 'body.rec' holds ${data.length} bytes, expected ${RECORD_BYTES * rows} for ${rows} records`,
    );
  }
  const columns = {};
  let offset = 0;
  for (const [name, dtype, trailing] of REC_COLUMNS) {
    const Typed = DTYPES[dtype];
    const count = rows * trailing.reduce((a, b) => a * b, 1);
    columns[name] = new NdArray(dtype, [rows, ...trailing], view(data, Typed, count, offset));
    offset += count * Typed.BYTES_PER_ELEMENT;
  }
  const bad = columns.activity.data.find((a) => a >= ACTIVITY_LIMIT);
  if (bad !== undefined) {
    throw new WireError(BAD_VALUE, `field 'body.rec' holds activity ${bad}, expected < ${ACTIVITY_LIMIT}`);
  }
  return columns;
}

/** The crowd message of a decoded envelope (see `decode`). */
export function fromEnvelope(env) {
  const body = env.body;
  const cell = readCell(body);
  const base = readInt(body, "base", "body", 0);
  if (base > env.seq) {
    throw new WireError(BAD_VALUE, `field 'body.base' holds ${base}, expected <= seq ${env.seq}`);
  }
  const changedBytes = readBin(body, "changed");
  const changed = new NdArray("|u1", [changedBytes.length], changedBytes);
  const ids = readIds(body, "ids");
  const gone = readIds(body, "gone");
  if (base === env.seq && (changed.data.length || gone.data.length)) {
    throw new WireError(BAD_VALUE, "a keyframe (base == seq) must have empty changed and gone");
  }
  const records = readRec(body, popcount(changed.data) + ids.data.length);
  return { tick: env.tick, seq: env.seq, t_s: env.t_s, cell, base, changed, ids, gone, ...records };
}

/**
 * Decode and check a crowd payload (fields in the order of the body table).
 * @param {Uint8Array} bytes
 * @returns {CrowdMessage}
 * @throws {WireError}
 */
export function decode(bytes) {
  return fromEnvelope(unpackEnvelope(bytes, KIND));
}

// -- the subscriber side ------------------------------------------------------------------------

/** Quantized records of n twins as columns (the layout of `rec`), owned (not payload views). */
function emptyRecords(n) {
  return {
    pos: new Int16Array(2 * n),
    heading: new Uint16Array(n),
    speed: new Uint8Array(n),
    activity: new Uint8Array(n),
    clip: new Uint8Array(n),
    phase: new Uint8Array(n),
    blend: new Uint8Array(n),
  };
}

/** Copy record `from` of columns `src` (NdArrays' data or arrays) to row `to` of `dst`. */
function copyRecord(src, from, dst, to) {
  dst.pos[2 * to] = src.pos[2 * from];
  dst.pos[2 * to + 1] = src.pos[2 * from + 1];
  dst.heading[to] = src.heading[from];
  dst.speed[to] = src.speed[from];
  dst.activity[to] = src.activity[from];
  dst.clip[to] = src.clip[from];
  dst.phase[to] = src.phase[from];
  dst.blend[to] = src.blend[from];
}

function columnsOf(msg) {
  return {
    pos: msg.pos.data, heading: msg.heading.data, speed: msg.speed.data,
    activity: msg.activity.data, clip: msg.clip.data, phase: msg.phase.data, blend: msg.blend.data,
  };
}

/**
 * @typedef {object} CrowdState the whole, dequantized crowd of one cell, ids ascending
 * @property {[number, number]} cell
 * @property {number} tick envelope of the last message applied
 * @property {number} seq
 * @property {number} t_s
 * @property {NdArray} ids (N,) <u4
 * @property {NdArray} pos_m (N, 2) <f8, x east, y north, m
 * @property {NdArray} heading_rad (N,) <f4, 0 = east, counter-clockwise
 * @property {NdArray} speed_mps (N,) <f4
 * @property {NdArray} activity (N,) |u1 activity code
 * @property {NdArray} clip (N,) |u1 clip code
 * @property {NdArray} phase (N,) <f4 in [0, 1] at sample_t_s
 * @property {NdArray} blend (N,) <f4 in [0, 1]
 * @property {NdArray} sample_t_s (N,) <f8, sim time of each twin's record, s
 */

/** The state after `msg`: twins `ids` (N,) with records `rec` (columns) sampled at `sampleT`. */
function dequantize(msg, ids, rec, sampleT) {
  const n = ids.length;
  const cx = (msg.cell[0] + 0.5) * CELL_SIZE_M;
  const cy = (msg.cell[1] + 0.5) * CELL_SIZE_M;
  const pos = new Float64Array(2 * n);
  const heading = new Float32Array(n);
  const speed = new Float32Array(n);
  const phase = new Float32Array(n);
  const blend = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    pos[2 * i] = cx + rec.pos[2 * i] * POS_QUANTUM_M;
    pos[2 * i + 1] = cy + rec.pos[2 * i + 1] * POS_QUANTUM_M;
    heading[i] = rec.heading[i] * ((2 * Math.PI) / HEADING_CODES);
    speed[i] = rec.speed[i] * SPEED_QUANTUM_MPS;
    phase[i] = rec.phase[i] / UNIT_CODES;
    blend[i] = rec.blend[i] / UNIT_CODES;
  }
  return {
    cell: msg.cell, tick: msg.tick, seq: msg.seq, t_s: msg.t_s,
    ids: new NdArray("<u4", [n], ids),
    pos_m: new NdArray("<f8", [n, 2], pos),
    heading_rad: new NdArray("<f4", [n], heading),
    speed_mps: new NdArray("<f4", [n], speed),
    activity: new NdArray("|u1", [n], rec.activity),
    clip: new NdArray("|u1", [n], rec.clip),
    phase: new NdArray("<f4", [n], phase),
    blend: new NdArray("<f4", [n], blend),
    sample_t_s: new NdArray("<f8", [n], sampleT),
  };
}

/**
 * Where twin `row` of a crowd state (or of `mergeCells`' crowd) is at sim time `tS`, s: its
 * record moved on from its `sample_t_s` along its heading at its speed, never backwards
 * (docs/protocol.md section 6.1, subscriber rule 5). At the `t` of any message of the cell it is
 * within the server's dead-reckoning distance (0.25 m by default) of the twin.
 * @returns {[number, number]} x east, y north, m
 */
export function positionAt(state, row, tS) {
  const stepM = state.speed_mps.data[row] * Math.max(0, tS - state.sample_t_s.data[row]);
  const heading = state.heading_rad.data[row];
  return [
    state.pos_m.data[2 * row] + stepM * Math.cos(heading),
    state.pos_m.data[2 * row + 1] + stepM * Math.sin(heading),
  ];
}

/** (K,) 0/1 per base twin from the bitmask; checks its length and that padding bits are 0. */
function changedMask(msg, nBase) {
  const need = (nBase + 7) >> 3;
  const bytes = msg.changed.data;
  if (bytes.length !== need) {
    throw new WireError(
      LENGTH_MISMATCH,
      `field 'body.changed' has ${bytes.length} bytes, expected ${need} for a base of ${nBase} twins`,
    );
  }
  const mask = new Uint8Array(nBase);
  for (let i = 0; i < 8 * need; i++) {
    const bit = (bytes[i >> 3] >> (i & 7)) & 1;
    if (i < nBase) mask[i] = bit;
    else if (bit) {
      throw new WireError(BAD_VALUE, `field 'body.changed' sets bits beyond the base's ${nBase} twins`);
    }
  }
  return mask;
}

/** (n,) 0/1: which of ascending `ids` are in ascending `sorted` (two pointers). */
function member(sorted, ids) {
  const found = new Uint8Array(ids.length);
  let k = 0;
  for (let i = 0; i < ids.length; i++) {
    while (k < sorted.length && sorted[k] < ids[i]) k++;
    found[i] = k < sorted.length && sorted[k] === ids[i] ? 1 : 0;
  }
  return found;
}

/** (K,) 0/1 of the base twins that are gone; checks ids and gone against the base. */
function goneMask(msg, key, changed) {
  const newIds = msg.ids.data;
  const inBase = member(key.ids, newIds);
  const twin = newIds.find((_, i) => inBase[i]);
  if (twin !== undefined) {
    throw new WireError(BAD_VALUE, `field 'body.ids' holds ${twin}, which is in the base keyframe`);
  }
  const leaving = msg.gone.data;
  const known = member(key.ids, leaving);
  const stranger = leaving.find((_, i) => !known[i]);
  if (stranger !== undefined) {
    throw new WireError(BAD_VALUE, `field 'body.gone' holds ${stranger}, which is not in the base keyframe`);
  }
  const gone = member(leaving, key.ids);
  const both = key.ids.findIndex((_, i) => gone[i] && changed[i]);
  if (both >= 0) throw new WireError(BAD_VALUE, `twin ${key.ids[both]} is both changed and gone`);
  return gone;
}

/**
 * Subscriber side of the crowd streams (subscriber rules of section 6.1): each cell's keyframe
 * and the state after the last message applied. A message at or below the last applied seq of
 * its cell is stale and ignored; a delta whose keyframe is not held throws unknown_base.
 */
export class CrowdDecoder {
  constructor() {
    /** @type {Map<string, {key: object, state: CrowdState}>} by `ix,iy` */
    this.cells = new Map();
  }

  /**
   * Apply one crowd payload; returns the whole state of its cell.
   * @param {Uint8Array} bytes
   * @returns {CrowdState}
   * @throws {WireError}
   */
  apply(bytes) {
    return this.applyMessage(decode(bytes));
  }

  /** `apply` of a decoded message. */
  applyMessage(msg) {
    const name = msg.cell.join(",");
    const held = this.cells.get(name);
    if (held !== undefined && msg.seq <= held.state.seq) return held.state;
    let key;
    let state;
    if (msg.base === msg.seq) {
      const n = msg.ids.data.length;
      const records = emptyRecords(n);
      const src = columnsOf(msg);
      for (let r = 0; r < n; r++) copyRecord(src, r, records, r);
      key = { seq: msg.seq, t_s: msg.t_s, ids: msg.ids.data.slice(), records };
      state = dequantize(msg, key.ids.slice(), { ...records, activity: records.activity.slice(),
        clip: records.clip.slice() }, new Float64Array(n).fill(msg.t_s));
    } else if (held === undefined || held.key.seq !== msg.base) {
      const has = held === undefined ? "none" : `seq ${held.key.seq}`;
      throw new WireError(
        UNKNOWN_BASE,
        `cell [${msg.cell[0]}, ${msg.cell[1]}]: delta needs keyframe seq ${msg.base}, decoder has ${has}`,
      );
    } else {
      key = held.key;
      state = rebuild(msg, key);
    }
    this.cells.set(name, { key, state });
    return state;
  }

  /** Every cell's state, in no particular order. */
  states() {
    return [...this.cells.values()].map((held) => held.state);
  }
}

/** The state after delta `msg` on keyframe `key`: kept base twins and new ones merged by id. */
function rebuild(msg, key) {
  const k = key.ids.length;
  const changed = changedMask(msg, k);
  const gone = goneMask(msg, key, changed);
  const newIds = msg.ids.data;
  let nChanged = 0;
  for (let i = 0; i < k; i++) nChanged += changed[i];
  const n = k - msg.gone.data.length + newIds.length;
  const ids = new Uint32Array(n);
  const rec = emptyRecords(n);
  const sampleT = new Float64Array(n);
  const src = columnsOf(msg);
  let i = 0; // base twin
  let row = 0; // next changed record of msg
  let j = 0; // new twin
  for (let out = 0; out < n; out++) {
    while (i < k && gone[i]) i++;
    if (i < k && (j >= newIds.length || key.ids[i] < newIds[j])) {
      ids[out] = key.ids[i];
      if (changed[i]) {
        copyRecord(src, row++, rec, out);
        sampleT[out] = msg.t_s;
      } else {
        copyRecord(key.records, i, rec, out);
        sampleT[out] = key.t_s;
      }
      i++;
    } else {
      ids[out] = newIds[j];
      copyRecord(src, nChanged + j++, rec, out);
      sampleT[out] = msg.t_s;
    }
  }
  return dequantize(msg, ids, rec, sampleT);
}
