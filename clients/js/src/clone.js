/**
 * The Clone state of a client (docs/protocol.md section 8): the tables and roster, every
 * followed cell's crowd (keyframes and deltas), the latest vitals and pose of followed twins.
 * A state machine without sockets: feed it the roster and snapshot replies (`join`) and PUB
 * messages (`receive`); `WsClone` (client.js) drives it over the WebSocket.
 * @module clone
 */
import { NdArray } from "./arrays.js";
import { CrowdDecoder } from "./crowd.js";
import { decodeAny } from "./decode.js";
import { bodies } from "./shape.js";

/** The per-twin fields of a merged crowd, with their TypedArrays. */
const TWIN_FIELDS = [
  ["pos_m", Float64Array, 2, "<f8"],
  ["heading_rad", Float32Array, 1, "<f4"],
  ["speed_mps", Float32Array, 1, "<f4"],
  ["activity", Uint8Array, 1, "|u1"],
  ["clip", Uint8Array, 1, "|u1"],
  ["phase", Float32Array, 1, "<f4"],
  ["blend", Float32Array, 1, "<f4"],
  ["sample_t_s", Float64Array, 1, "<f8"],
];

/**
 * Every twin of several cells' states once (section 8 rule 6): a twin two cells hold is taken
 * from the cell whose last applied message has the greatest seq. Ids ascending.
 * @param {import("./crowd.js").CrowdState[]} states
 * @returns {{ids: NdArray} & Record<string, NdArray>} ids (N,) and each of TWIN_FIELDS (N, ...)
 */
export function mergeCells(states) {
  const chosen = new Map(); // id -> [state, row]
  const newestFirst = [...states].sort((a, b) => (a.seq < b.seq ? 1 : a.seq > b.seq ? -1 : 0));
  for (const state of newestFirst) {
    state.ids.data.forEach((id, row) => {
      if (!chosen.has(id)) chosen.set(id, [state, row]);
    });
  }
  const ids = Uint32Array.from([...chosen.keys()]).sort();
  const out = { ids: new NdArray("<u4", [ids.length], ids) };
  for (const [name, Typed, width, dtype] of TWIN_FIELDS) {
    const data = new Typed(ids.length * width);
    ids.forEach((id, i) => {
      const [state, row] = chosen.get(id);
      for (let k = 0; k < width; k++) data[i * width + k] = state[name].data[row * width + k];
    });
    out[name] = new NdArray(dtype, width === 1 ? [ids.length] : [ids.length, width], data);
  }
  return out;
}

/**
 * A client's replica of the server's state.
 *
 * Rules: PUB messages with seq <= S (the snapshot's seq) are discarded; crowd messages go to
 * the CrowdDecoder (which ignores stale ones and throws unknown_base for a lost keyframe: the
 * error is counted in `rejected` and the cell waits for its next keyframe); `meta` updates the
 * tables and the roster; vitals, poses and bodies (`shape`: model and betas) keep the latest
 * per twin; events go to `onEvent`.
 */
export class Replica {
  constructor() {
    this.snapshotSeq = 0;
    this.crowdDecoder = new CrowdDecoder();
    /** @type {{protocol: number, epoch: string, activities: string[], clips: string[]} | null} */
    this.tables = null;
    /** @type {Set<number>} every twin of the world, from roster and meta */
    this.roster = new Set();
    this.vitals = new Map();
    this.poses = new Map();
    /** @type {Map<number, {model: string, betas: Float32Array, seq: number}>} */
    this.bodies = new Map();
    this.rejected = 0;
    this.lastError = null;
    /** @type {(event: object) => void} */
    this.onEvent = () => {};
  }

  /**
   * Start from a roster reply and a snapshot reply (decoded).
   * @param {object} roster the `roster` reply
   * @param {object} snapshot the `snapshot` reply
   */
  join(roster, snapshot) {
    const r = roster.result;
    this.tables = { protocol: r.protocol, epoch: r.epoch, activities: r.activities, clips: r.clips };
    this.roster = new Set(r.ids.data);
    for (const payload of snapshot.result.crowd) this.crowdDecoder.apply(payload);
    this.snapshotSeq = snapshot.seq;
  }

  /**
   * Apply one PUB message. Returns the decoded message, or null when it was discarded
   * (stale, or rejected: see `rejected` and `lastError`).
   * @param {Uint8Array} payload
   */
  receive(payload) {
    let msg;
    try {
      msg = decodeAny(payload);
      if (msg.seq <= this.snapshotSeq) return null;
      this.apply(msg);
    } catch (err) {
      if (err.name !== "WireError") throw err;
      this.rejected += 1;
      this.lastError = err;
      return null;
    }
    return msg;
  }

  apply(msg) {
    if (msg.kind === "crowd") {
      this.crowdDecoder.applyMessage(msg);
    } else if (msg.kind === "meta") {
      const { protocol, epoch, activities, clips } = msg;
      this.tables = { protocol, epoch, activities, clips };
      for (const id of msg.added.data) this.roster.add(id);
      for (const id of msg.removed.data) {
        this.roster.delete(id);
        this.vitals.delete(id);
        this.poses.delete(id);
        this.bodies.delete(id);
      }
    } else if (msg.kind === "vitals") {
      msg.ids.data.forEach((id, i) => {
        const row = { t_s: msg.t_s };
        for (const [name, arr] of Object.entries(msg)) {
          if (arr instanceof NdArray && name !== "ids") row[name] = arr.data[i];
        }
        this.vitals.set(id, row);
      });
    } else if (msg.kind === "pose") {
      const joints = msg.quat.shape[1];
      msg.ids.data.forEach((id, i) => {
        this.poses.set(id, {
          t_s: msg.t_s,
          quat: msg.quat.data.subarray(i * joints * 4, (i + 1) * joints * 4),
          root_m: msg.root_m.data.subarray(3 * i, 3 * i + 3),
        });
      });
    } else if (msg.kind === "shape") {
      for (const [id, body] of bodies(msg)) this.bodies.set(id, body);
    } else if (msg.kind === "event") {
      this.onEvent(msg);
    }
  }

  /** Every twin of the followed cells once, ids ascending (`mergeCells`). */
  crowd() {
    return mergeCells(this.crowdDecoder.states());
  }
}
