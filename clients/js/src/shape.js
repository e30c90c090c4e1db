/**
 * `shape`: a followed twin's body, its model and SMPL shape coefficients (docs/protocol.md
 * section 6.8), on `twin/<id>/shape`.
 * @module shape
 */
import { checkAscending, checkRows, readArray } from "./arrays.js";
import { BAD_VALUE, WireError } from "./errors.js";
import { unpackEnvelope } from "./envelope.js";

export const KIND = "shape";
/** Body model names; a model's code is its index. */
export const MODELS = ["female", "male", "neutral"];

/**
 * @typedef {object} ShapeMessage the bodies of M twins with B shape coefficients
 * @property {number} tick
 * @property {number} seq
 * @property {number} t_s
 * @property {NdArray} ids (M,) <u4 ascending
 * @property {NdArray} model (M,) |u1 body model code, index into MODELS
 * @property {NdArray} betas (M, B) <f4 SMPL shape coefficients
 */

/** The shape message of a decoded envelope. */
export function fromEnvelope(env) {
  const ids = readArray(env.body, "ids", "body", "<u4");
  checkAscending(ids, "body.ids");
  const model = readArray(env.body, "model", "body", "|u1");
  checkRows(model, "body.model", ids.length);
  const bad = model.data.find((code) => code >= MODELS.length);
  if (bad !== undefined) {
    throw new WireError(BAD_VALUE, `field 'body.model' holds ${bad}, expected < ${MODELS.length}`);
  }
  const betas = readArray(env.body, "betas", "body", "<f4", [null]);
  checkRows(betas, "body.betas", ids.length);
  if (!betas.data.every(Number.isFinite)) throw new WireError(BAD_VALUE, "field 'body.betas' must be finite");
  return { tick: env.tick, seq: env.seq, t_s: env.t_s, ids, model, betas };
}

/**
 * Decode and check a shape payload.
 * @param {Uint8Array} bytes
 * @returns {ShapeMessage}
 */
export function decode(bytes) {
  return fromEnvelope(unpackEnvelope(bytes, KIND));
}

/**
 * Each twin's body in a shape message, by id.
 * @param {ShapeMessage} msg
 * @returns {Map<number, {model: string, betas: Float32Array, seq: number}>}
 */
export function bodies(msg) {
  const width = msg.betas.shape[1];
  const out = new Map();
  msg.ids.data.forEach((id, i) => {
    const betas = Float32Array.from(msg.betas.data.subarray(i * width, (i + 1) * width));
    out.set(id, { model: MODELS[msg.model.data[i]], betas, seq: msg.seq });
  });
  return out;
}
