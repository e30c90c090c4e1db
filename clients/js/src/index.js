/**
 * SynthTwin's JavaScript client: the wire protocol (docs/protocol.md) decoder of every message
 * kind, the Clone state, and a request client over the gateway's WebSocket. No dependencies, no
 * build step: an ES module for Node (>= 20) and browsers.
 * @module synthtwin
 */
export { NdArray, fromWire } from "./arrays.js";
export { ChatArgsError, readArgs as readChatArgs, readEvent as readChatEvent, readResult as readChatResult } from "./chat.js";
export { CrowdDecoder, positionAt } from "./crowd.js";
export { decodeAny, DECODERS } from "./decode.js";
export { KINDS, PROTOCOL_VERSION, unpackEnvelope } from "./envelope.js";
export { MsgExt, MsgFloat, WireError } from "./errors.js";
export { pack, unpack } from "./msgpack.js";
export { Replica, mergeCells } from "./clone.js";
export { LiveClone, SUBPROTOCOL, RequestError, SynthTwinSocket, WsClone, frame, splitFrame } from "./client.js";
export { encode as encodeRequest } from "./request.js";
export { unpackQuaternions } from "./pose.js";
export { MODELS, bodies } from "./shape.js";
