/**
 * `pose`: the joint rotations of selected twins (docs/protocol.md section 6.2), each a
 * quaternion packed smallest-three into three uint16 words.
 * @module pose
 */
import { NdArray, checkAscending, checkRows, readArray } from "./arrays.js";
import { unpackEnvelope } from "./envelope.js";

export const KIND = "pose";
export const COMPONENT_BITS = 15;
export const ROOT_QUANTUM_M = 0.001;
const HALF = (1 << (COMPONENT_BITS - 1)) - 1; // 16383: the code of 0
const S = 1 / Math.sqrt(2);
const LOW = (1 << COMPONENT_BITS) - 1;
/** The three kept components for each dropped index, in w, x, y, z order. */
const KEPT = [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]];

/**
 * (..., 3) smallest-three words -> (..., 4) unit quaternions (w, x, y, z).
 * @param {Uint16Array} words 3 per quaternion
 * @returns {Float32Array} 4 per quaternion
 */
export function unpackQuaternions(words) {
  const n = words.length / 3;
  const out = new Float32Array(4 * n);
  const q = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const w0 = words[3 * i];
    const w1 = words[3 * i + 1];
    const largest = ((w0 >> COMPONENT_BITS) << 1) | (w1 >> COMPONENT_BITS);
    let sum = 0;
    KEPT[largest].forEach((at, k) => {
      const c = ((words[3 * i + k] & LOW) - HALF) * (S / HALF);
      q[at] = c;
      sum += c * c;
    });
    q[largest] = Math.sqrt(Math.max(0, 1 - sum));
    const norm = Math.hypot(q[0], q[1], q[2], q[3]);
    for (let c = 0; c < 4; c++) out[4 * i + c] = q[c] / norm;
  }
  return out;
}

/**
 * @typedef {object} PoseMessage poses of M twins with J joints
 * @property {number} tick
 * @property {number} seq
 * @property {number} t_s
 * @property {NdArray} ids (M,) <u4 ascending
 * @property {NdArray} quat (M, J, 4) <f4 unit quaternions (w, x, y, z), relative to the parent
 * @property {NdArray} root_m (M, 3) <f8 SMPL root translation, m (x east, y north, z up)
 */

/** The pose message of a decoded envelope. */
export function fromEnvelope(env) {
  const ids = readArray(env.body, "ids", "body", "<u4");
  checkAscending(ids, "body.ids");
  const rot = readArray(env.body, "rot", "body", "<u2", [null, 3]);
  checkRows(rot, "body.rot", ids.length);
  const root = readArray(env.body, "root", "body", "<i4", [3]);
  checkRows(root, "body.root", ids.length);
  const [m, j] = rot.shape;
  return {
    tick: env.tick, seq: env.seq, t_s: env.t_s, ids,
    quat: new NdArray("<f4", [m, j, 4], unpackQuaternions(rot.data)),
    root_m: new NdArray("<f8", [m, 3], Float64Array.from(root.data, (mm) => mm * ROOT_QUANTUM_M)),
  };
}

/**
 * Decode and check a pose payload.
 * @param {Uint8Array} bytes
 * @returns {PoseMessage}
 */
export function decode(bytes) {
  return fromEnvelope(unpackEnvelope(bytes, KIND));
}
