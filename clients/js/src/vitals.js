/**
 * `vitals`: vital signs of one twin or of a cell's twins (docs/protocol.md section 6.3), each
 * field `value = offset + code * quantum`.
 * @module vitals
 */
import { NdArray, checkAscending, checkRows, readArray } from "./arrays.js";
import { BAD_VALUE, WireError } from "./errors.js";
import { unpackEnvelope } from "./envelope.js";

export const KIND = "vitals";
export const ACTIVITY_LIMIT = 16;
/** Each field: name, dtype, quantum, offset (units in the names). */
export const VITAL_FIELDS = [
  ["hr_bpm", "|u1", 1, 0],
  ["sbp_mmhg", "|u1", 1, 0],
  ["dbp_mmhg", "|u1", 1, 0],
  ["rr_brpm", "|u1", 0.25, 0],
  ["spo2_pct", "|u1", 0.125, 70],
  ["core_temp_c", "|u1", 0.05, 34],
  ["glucose_mgdl", "<u2", 0.1, 0],
  ["steps", "<u4", 1, 0],
  ["energy_kcal", "<u2", 0.2, 0],
  ["mets", "|u1", 0.1, 0],
];

/**
 * The vitals message of a decoded envelope: `ids` (n,) <u4, each field of VITAL_FIELDS as
 * (n,) <f4 in its unit, `activity` (n,) |u1.
 */
export function fromEnvelope(env) {
  const ids = readArray(env.body, "ids", "body", "<u4");
  checkAscending(ids, "body.ids");
  const out = { tick: env.tick, seq: env.seq, t_s: env.t_s, ids };
  for (const [name, dtype, quantum, offset] of VITAL_FIELDS) {
    const codes = readArray(env.body, name, "body", dtype);
    checkRows(codes, `body.${name}`, ids.length);
    out[name] = new NdArray("<f4", [ids.length], Float32Array.from(codes.data, (c) => offset + c * quantum));
  }
  const activity = readArray(env.body, "activity", "body", "|u1");
  checkRows(activity, "body.activity", ids.length);
  const bad = activity.data.find((a) => a >= ACTIVITY_LIMIT);
  if (bad !== undefined) {
    throw new WireError(BAD_VALUE, `field 'body.activity' holds ${bad}, expected < ${ACTIVITY_LIMIT}`);
  }
  out.activity = activity;
  return out;
}

/** Decode and check a vitals payload. */
export function decode(bytes) {
  return fromEnvelope(unpackEnvelope(bytes, KIND));
}
