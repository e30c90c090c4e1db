/**
 * `meta`: the tables (activity and clip names) and roster changes (docs/protocol.md 6.5).
 * @module meta
 */
import { checkAscending, readArray } from "./arrays.js";
import { WRONG_TYPE, WireError } from "./errors.js";
import { readInt, readList, readStr } from "./fields.js";
import { unpackEnvelope } from "./envelope.js";

export const KIND = "meta";

function readNames(body, key) {
  const names = readList(body, key, "body");
  if (!names.every((n) => typeof n === "string")) {
    throw new WireError(WRONG_TYPE, `field 'body.${key}' must be an array of str`);
  }
  return names;
}

function readIds(body, key) {
  const ids = readArray(body, key, "body", "<u4");
  checkAscending(ids, `body.${key}`);
  return ids;
}

/** The meta message of a decoded envelope. */
export function fromEnvelope(env) {
  const body = env.body;
  const protocol = readInt(body, "protocol", "body", 1);
  const epoch = readStr(body, "epoch", "body");
  const activities = readNames(body, "activities");
  const clips = readNames(body, "clips");
  const added = readIds(body, "added");
  const removed = readIds(body, "removed");
  return { tick: env.tick, seq: env.seq, t_s: env.t_s, epoch, activities, clips, added, removed, protocol };
}

/** Decode and check a meta payload. */
export function decode(bytes) {
  return fromEnvelope(unpackEnvelope(bytes, KIND));
}
