/**
 * The WebSocket transport (docs/protocol.md, "WebSocket transport"): `SynthTwinSocket` frames
 * topics and payloads, subscribes by prefix, and matches replies to requests by id;
 * `WsClone` joins the Clone pattern over it (subscribe, then roster and snapshot pipelined,
 * then the live messages after the snapshot's seq).
 *
 * Frames: a binary message is `[n: u8][topic: n bytes ASCII][payload]` (n = 0: a request or a
 * reply); a text message is a JSON control message.
 * @module client
 */
import { Replica } from "./clone.js";
import * as reply from "./reply.js";
import * as request from "./request.js";

/** The subprotocol of the transport; `bearer.<token>` carries a token. */
export const SUBPROTOCOL = "synthtwin-v1";
export const DEFAULT_TIMEOUT_MS = 5000;

const ascii = new TextDecoder("ascii");
const encoder = new TextEncoder();

/** A failed operation: `code` and `message` of the reply's error, `retryAfterMs`. */
export class RequestError extends Error {
  constructor(error) {
    super(`${error.code}: ${error.message}`);
    this.name = "RequestError";
    this.code = error.code;
    this.retryAfterMs = error.retry_after_ms;
  }
}

/**
 * `[n][topic][payload]` of a PUB message, or of a request (topic "").
 * @param {string} topic ASCII, at most 255 bytes
 * @param {Uint8Array} payload
 */
export function frame(topic, payload) {
  const head = encoder.encode(topic);
  if (head.length > 255) throw new RangeError(`topic of ${head.length} bytes, at most 255`);
  const out = new Uint8Array(1 + head.length + payload.length);
  out[0] = head.length;
  out.set(head, 1);
  out.set(payload, 1 + head.length);
  return out;
}

/**
 * `{topic, payload}` of a binary message (payload a view, no copy).
 * @param {Uint8Array} data
 */
export function splitFrame(data) {
  if (data.length < 1 || data.length < 1 + data[0]) {
    throw new Error("a binary message starts with its topic's length and the topic");
  }
  return { topic: ascii.decode(data.subarray(1, 1 + data[0])), payload: data.subarray(1 + data[0]) };
}

/**
 * One WebSocket connection to a gateway.
 *
 * `onPublish(topic, payload)` receives every PUB message; `onSkipped({dropped})` is called when
 * the gateway skipped this client ahead (it was too slow: section "WebSocket transport").
 */
export class SynthTwinSocket {
  /**
   * @param {WebSocket} ws an open WebSocket (binaryType "arraybuffer")
   * @param {number} timeoutMs how long a request or a subscription waits for its answer
   */
  constructor(ws, timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.ws = ws;
    this.timeoutMs = timeoutMs;
    this.nextId = 1;
    this.waiting = new Map(); // request id -> {resolve, reject, timer}
    this.controls = []; // FIFO of {resolve, reject, timer}: control answers come in order
    this.onPublish = () => {};
    this.onSkipped = () => {};
    this.onUnmatched = () => {};
    ws.addEventListener("message", (event) => this.#receive(event.data));
    ws.addEventListener("close", (event) => this.#failAll(new Error(`closed (${event.code}) ${event.reason}`)));
  }

  /**
   * Open a connection.
   * @param {string} url `ws://host:port/ws`
   * @param {{token?: string, WebSocket?: typeof WebSocket, timeoutMs?: number}} [options]
   *   token: sent as the subprotocol `bearer.<token>` (a page may rely on its login cookie);
   *   WebSocket: the implementation (default: the global one)
   * @returns {Promise<SynthTwinSocket>}
   */
  static connect(url, { token = null, WebSocket: Impl = globalThis.WebSocket, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    const protocols = token === null ? [SUBPROTOCOL] : [SUBPROTOCOL, `bearer.${token}`];
    const ws = new Impl(url, protocols);
    ws.binaryType = "arraybuffer";
    return new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(new SynthTwinSocket(ws, timeoutMs)), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)), { once: true });
    });
  }

  #receive(data) {
    if (typeof data === "string") {
      const answer = JSON.parse(data);
      if (answer.op === "skipped") return this.onSkipped(answer);
      const waiting = this.controls.shift();
      if (waiting === undefined) return this.onUnmatched(answer);
      if (waiting.expired) return; // the late answer of a control that timed out
      clearTimeout(waiting.timer);
      if (answer.op === "error") waiting.reject(new Error(answer.message));
      else waiting.resolve(answer);
      return;
    }
    const { topic, payload } = splitFrame(new Uint8Array(data));
    if (topic) return this.onPublish(topic, payload);
    const answer = reply.decode(payload);
    const waiting = this.waiting.get(answer.id);
    if (waiting === undefined) return this.onUnmatched(answer);
    this.waiting.delete(answer.id);
    clearTimeout(waiting.timer);
    waiting.resolve(answer);
  }

  #failAll(err) {
    for (const waiting of [...this.waiting.values(), ...this.controls]) {
      clearTimeout(waiting.timer);
      waiting.reject(err);
    }
    this.waiting.clear();
    this.controls = [];
  }

  #wait(what, register) {
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject };
      entry.timer = setTimeout(() => {
        entry.cancel();
        reject(new Error(`no answer to ${what} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      register(entry);
    });
  }

  #control(op, prefix) {
    this.ws.send(JSON.stringify({ op, prefix }));
    return this.#wait(`${op} '${prefix}'`, (entry) => {
      // Timed out: it stays in the queue to take its answer, which still comes in order (else
      // the next control would get it).
      entry.cancel = () => {
        entry.expired = true;
      };
      this.controls.push(entry);
    });
  }

  /** Receive the topics that start with `prefix` (`cell/3/-2/`, `twin/42/`, `meta`, ``). */
  subscribe(prefix) {
    return this.#control("subscribe", prefix);
  }

  /** Undo `subscribe(prefix)`. */
  unsubscribe(prefix) {
    return this.#control("unsubscribe", prefix);
  }

  /**
   * Send one request; resolves to its decoded reply (ok or not).
   * @param {string} op
   * @param {object} [args]
   */
  request(op, args = {}) {
    const id = this.nextId++;
    this.ws.send(frame("", request.encode({ id, op, args })));
    return this.#wait(`'${op}'`, (entry) => {
      entry.cancel = () => this.waiting.delete(id);
      this.waiting.set(id, entry);
    });
  }

  /** The result of `op`; throws RequestError when the reply is not ok. */
  async call(op, args = {}) {
    const answer = await this.request(op, args);
    if (!answer.ok) throw new RequestError(answer.error);
    return answer.result;
  }

  close() {
    this.ws.close();
  }
}

/**
 * A Clone client over the WebSocket: a `Replica` of the given prefixes.
 *
 * `await WsClone.join(socket, ["cell/", "meta"])` subscribes, asks roster and snapshot at once,
 * applies the snapshot, then every PUB message after its seq (those that arrived meanwhile
 * first). After the gateway skips the client ahead, it asks the roster again.
 */
export class WsClone {
  constructor(socket) {
    this.socket = socket;
    this.replica = new Replica();
    /** Called with each applied message. */
    this.onApplied = () => {};
    /** Called when re-reading the roster after a skip failed (the connection closed, a timeout,
     * `rate_limited`): the roster then follows `meta` alone. Never throws past this. */
    this.onError = () => {};
  }

  /**
   * @param {SynthTwinSocket} socket
   * @param {string[]} prefixes
   * @param {string[][] | null} [cells] cells of the snapshot ([[ix, iy], ...]); null: all
   * @returns {Promise<WsClone>}
   */
  static async join(socket, prefixes, cells = null) {
    const clone = new WsClone(socket);
    const early = [];
    socket.onPublish = (topic, payload) => early.push(payload);
    await Promise.all(prefixes.map((prefix) => socket.subscribe(prefix)));
    const [roster, snapshot] = await Promise.all([
      socket.request("roster"),
      socket.request("snapshot", cells === null ? {} : { cells }),
    ]);
    for (const answer of [roster, snapshot]) if (!answer.ok) throw new RequestError(answer.error);
    clone.replica.join(roster, snapshot);
    socket.onPublish = (topic, payload) => clone.#apply(payload);
    socket.onSkipped = () => {
      clone.#reread().catch((err) => clone.onError(err)); // no unhandled rejection
    };
    for (const payload of early) clone.#apply(payload);
    return clone;
  }

  #apply(payload) {
    const msg = this.replica.receive(payload);
    if (msg !== null) this.onApplied(msg);
  }

  async #reread() {
    const roster = await this.socket.call("roster");
    this.replica.roster = new Set(roster.ids.data);
  }
}

/**
 * A `WsClone` that survives its connection: when the WebSocket closes (the gateway restarted,
 * the network dropped), it connects again, backing off from `retryMs` to `maxRetryMs`, and joins
 * again with a fresh `Replica` (a new snapshot: what it missed meanwhile is not replayed).
 * `onJoined(clone)` is called after each join, `onApplied(msg)` with each applied message.
 */
export class LiveClone {
  /**
   * @param {string} url
   * @param {string[]} prefixes
   * @param {{token?: string, WebSocket?: typeof WebSocket, timeoutMs?: number,
   *          retryMs?: number, maxRetryMs?: number}} [options]
   */
  constructor(url, prefixes, { retryMs = 250, maxRetryMs = 5000, ...options } = {}) {
    this.url = url;
    this.prefixes = prefixes;
    this.options = options;
    this.retryMs = retryMs;
    this.maxRetryMs = maxRetryMs;
    /** @type {WsClone | null} */
    this.clone = null;
    this.joins = 0;
    this.closed = false;
    this.onJoined = () => {};
    this.onApplied = () => {};
  }

  /** A LiveClone joined once (retrying as after a drop). */
  static async start(url, prefixes, options = {}) {
    const live = new LiveClone(url, prefixes, options);
    await live.#join();
    return live;
  }

  /** The current replica (null before the first join). */
  get replica() {
    return this.clone === null ? null : this.clone.replica;
  }

  async #join() {
    let waitMs = this.retryMs;
    while (!this.closed) {
      let socket = null;
      try {
        socket = await SynthTwinSocket.connect(this.url, this.options);
        const clone = await WsClone.join(socket, this.prefixes);
        if (this.closed) {
          socket.close(); // closed while it joined: nobody would ever close this connection
          return;
        }
        clone.onApplied = (msg) => this.onApplied(msg);
        socket.ws.addEventListener("close", () => this.#dropped(clone), { once: true });
        this.clone = clone;
        this.joins += 1;
        this.onJoined(clone);
        return;
      } catch {
        if (socket !== null) socket.close();
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        waitMs = Math.min(2 * waitMs, this.maxRetryMs);
      }
    }
  }

  #dropped(clone) {
    if (!this.closed && this.clone === clone) this.#join();
  }

  close() {
    this.closed = true;
    if (this.clone !== null) this.clone.socket.close();
  }
}
