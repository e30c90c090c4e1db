// The page's link to the simulation through the JavaScript client (clients/js, served at /js/):
// one WebSocket to the gateway (/ws, docs/protocol.md "WebSocket transport"), opened again after
// it closes. The twin list is a Clone client's join (roster and snapshot, then `Replica`), the
// header's figures the `stats` op.

import { Replica, SUBPROTOCOL, SynthTwinSocket } from "./js/index.js";

const TIMEOUT_MS = 4000;

/** A failed call: `status` 0 when the gateway could not be reached, else the reply's error. */
export class WireError extends Error {
  constructor(message, reachable) {
    super(message);
    this.reachable = reachable;
  }
}

let opening = null; // Promise<SynthTwinSocket> of the open (or opening) connection

function open() {
  if (opening !== null) return opening;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  opening = new Promise((resolve, reject) => {
    const ws = new WebSocket(`${scheme}://${location.host}/ws`, [SUBPROTOCOL]);
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => resolve(new SynthTwinSocket(ws, TIMEOUT_MS)));
    ws.addEventListener("close", () => {
      opening = null; // the next call connects again
      reject(new WireError("the gateway's WebSocket closed", false));
    });
  });
  return opening;
}

/** The decoded reply to `op` (ok or not); throws WireError when no reply came. */
async function request(op, args = {}) {
  const socket = await open();
  try {
    return await socket.request(op, args);
  } catch (err) {
    throw new WireError(String(err.message || err), false);
  }
}

/** The result of `op`, with the reply's `t_s`; throws WireError for a refusal or no reply. */
export async function call(op, args = {}) {
  const answer = await request(op, args);
  if (!answer.ok) throw new WireError(`${answer.error.code}: ${answer.error.message}`, true);
  return { ...answer.result, t_s: answer.t_s };
}

/**
 * Every twin as a Clone client sees it: the roster and a snapshot asked together and joined in a
 * `Replica` (docs/protocol.md section 8).
 * @returns {Promise<{epoch: string, activities: string[], ids: Uint32Array,
 *   cells: Int32Array, activity: Int16Array, pos: Float64Array}>} per twin, ids ascending:
 *   its cell (ix, iy pairs), activity code (-1: not on a crowd stream yet), position (x, y m)
 */
export async function twins() {
  const [roster, snapshot] = await Promise.all([request("roster"), request("snapshot")]);
  for (const answer of [roster, snapshot]) {
    if (!answer.ok) throw new WireError(`${answer.error.code}: ${answer.error.message}`, true);
  }
  const replica = new Replica();
  replica.join(roster, snapshot);
  const crowd = replica.crowd();
  const ids = roster.result.ids.data;
  const activity = new Int16Array(ids.length).fill(-1);
  const pos = new Float64Array(2 * ids.length).fill(NaN);
  let row = 0; // both id lists ascend: one merge pass
  crowd.ids.data.forEach((id, i) => {
    while (row < ids.length && ids[row] < id) row++;
    if (ids[row] !== id) return;
    activity[row] = crowd.activity.data[i];
    pos[2 * row] = crowd.pos_m.data[2 * i];
    pos[2 * row + 1] = crowd.pos_m.data[2 * i + 1];
  });
  const { epoch, activities } = replica.tables;
  return { epoch, activities, ids, cells: roster.result.cells.data, activity, pos };
}
