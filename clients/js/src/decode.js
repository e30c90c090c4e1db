/**
 * Decode any payload by its envelope's kind (docs/protocol.md section 4.2).
 * @module decode
 */
import * as crowd from "./crowd.js";
import * as event from "./event.js";
import * as meta from "./meta.js";
import * as pose from "./pose.js";
import * as reply from "./reply.js";
import * as request from "./request.js";
import * as shape from "./shape.js";
import * as vitals from "./vitals.js";
import { unpackEnvelope } from "./envelope.js";

/** Each kind's decoder of bytes. */
export const DECODERS = {
  crowd: crowd.decode,
  pose: pose.decode,
  vitals: vitals.decode,
  event: event.decode,
  meta: meta.decode,
  request: request.decode,
  reply: reply.decode,
  shape: shape.decode,
};

const FROM_ENVELOPE = {
  crowd: crowd.fromEnvelope,
  pose: pose.fromEnvelope,
  vitals: vitals.fromEnvelope,
  event: event.fromEnvelope,
  meta: meta.fromEnvelope,
  request: request.fromEnvelope,
  reply: reply.fromEnvelope,
  shape: shape.fromEnvelope,
};

/**
 * The message of any kind, with its `kind`.
 * @param {Uint8Array} bytes
 * @returns {{kind: string} & object}
 * @throws {WireError}
 */
export function decodeAny(bytes) {
  const env = unpackEnvelope(bytes);
  return { kind: env.kind, ...FROM_ENVELOPE[env.kind](env) };
}
