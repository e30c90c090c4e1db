/**
 * `chat`: a message to one twin (the ROUTER op `chat`), its reply's result, and `event/chat`
 * (docs/protocol.md section 7, `chat`; the reference is net/wire/chat.py). The readers take the
 * values as the request, reply and event decoders give them (fromWire's objects).
 * @module chat
 */
import { BAD_VALUE, WRONG_TYPE, WireError, typeName } from "./errors.js";
import { fieldPath, readInt, readList, readStr, require } from "./fields.js";

export const CHAT = "chat";
export const MAX_MESSAGE_CHARS = 2000;
export const MAX_TWIN_ID = 2 ** 32 - 1;
export const CONVERSATION_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const SOURCES = ["live", "history", "profile", "schedule"];
export const ENGINES = ["embedded", "llm"];

/** Arguments of the right types outside their range: `code` out_of_range or bad_request. */
export class ChatArgsError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = "ChatArgsError";
    this.code = code;
    this.message = message;
  }
}

function optionalStr(m, key, prefix) {
  const value = m[key] ?? null;
  if (value !== null && typeof value !== "string") {
    throw new WireError(WRONG_TYPE, `field '${fieldPath(prefix, key)}' must be str or nil, got ${typeName(value)}`);
  }
  return value;
}

function oneOf(value, allowed, path) {
  if (!allowed.includes(value)) throw new WireError(BAD_VALUE, `field '${path}' must be one of ${allowed.join(", ")}`);
  return value;
}

function readFact(fact, path) {
  if (typeName(fact) !== "map") throw new WireError(WRONG_TYPE, `field '${path}' must be map, got ${typeName(fact)}`);
  const name = readStr(fact, "name", path);
  const value = require(fact, "value", path);
  if (!["int", "float", "str", "bool"].includes(typeName(value))) {
    throw new WireError(WRONG_TYPE, `field '${path}.value' must be int, float, str or bool, got ${typeName(value)}`);
  }
  const unit = readStr(fact, "unit", path);
  const source = oneOf(readStr(fact, "source", path), SOURCES, `${path}.source`);
  return { name, value, unit, source, time: optionalStr(fact, "time", path) };
}

/**
 * The checked arguments of a `chat` request (the server's checks, in table order).
 * @returns {{twin_id: number, message: string, conversation_id: string | null}}
 * @throws {WireError | ChatArgsError}
 */
export function readArgs(args) {
  const twinId = readInt(args, "id", "args");
  if (twinId < 0 || twinId > MAX_TWIN_ID) {
    throw new ChatArgsError("out_of_range", `field 'args.id' holds ${twinId}, expected 0..${MAX_TWIN_ID}`);
  }
  const message = readStr(args, "message", "args").trim();
  const chars = Array.from(message).length;
  if (chars < 1 || chars > MAX_MESSAGE_CHARS) {
    throw new ChatArgsError(
      "out_of_range",
      `field 'args.message' holds ${chars} characters, expected 1..${MAX_MESSAGE_CHARS}`,
    );
  }
  const conversationId = optionalStr(args, "conversation_id", "args");
  if (conversationId !== null && !CONVERSATION_ID.test(conversationId)) {
    throw new ChatArgsError("bad_request", "field 'args.conversation_id' must be 1 to 64 letters, digits, '-' or '_'");
  }
  return { twin_id: twinId, message, conversation_id: conversationId };
}

/**
 * The result of a `chat` reply (or an event's data, with `prefix` `body.data`).
 * @returns {{reply: string, conversation_id: string, facts: object[], intent: string,
 *            engine: string, fallback: string | null}}
 * @throws {WireError}
 */
export function readResult(result, prefix = "result") {
  const reply = readStr(result, "reply", prefix);
  const conversationId = readStr(result, "conversation_id", prefix);
  const facts = readList(result, "facts", prefix).map((fact, i) => readFact(fact, `${fieldPath(prefix, "facts")}[${i}]`));
  const intent = readStr(result, "intent", prefix);
  const engine = oneOf(readStr(result, "engine", prefix), ENGINES, fieldPath(prefix, "engine"));
  const fallback = optionalStr(result, "fallback", prefix);
  return { reply, conversation_id: conversationId, facts, intent, engine, fallback };
}

/**
 * The exchange an `event/chat` message (decoded by event.js) carries.
 * @returns {{twin_id: number, message: string, result: object}}
 * @throws {WireError}
 */
export function readEvent(event) {
  if (event.type !== CHAT || event.twin_id === null) {
    throw new WireError(BAD_VALUE, "expected an event of type 'chat' about a twin");
  }
  const message = readStr(event.data, "message", "body.data");
  return { twin_id: event.twin_id, message, result: readResult(event.data, "body.data") };
}
