// The msgpack writer (requests) read back by the reader: every integer width and sign, BigInt
// beyond 2^53, floats, str/bin/array/map headers of each size, and the reader's limits.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MsgFloat, WireError } from "../src/errors.js";
import { pack, unpack } from "../src/msgpack.js";
import { decode, encode } from "../src/request.js";

const unbox = (v) => (v instanceof MsgFloat ? v.value : v);

test("integers of every width and sign come back equal, BigInt beyond 2^53", () => {
  const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1,
    -1, -32, -33, -128, -129, -32768, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1)];
  for (const n of ints) assert.equal(unpack(pack(n)), n, `${n}`);
  for (const big of [2n ** 53n, 2n ** 64n - 1n, -(2n ** 63n)]) assert.equal(unpack(pack(big)), big);
  assert.equal(unpack(pack(5n)), 5); // small BigInts read as numbers
});

test("floats, strings, bins, arrays and maps of each header size", () => {
  assert.equal(unbox(unpack(pack(1.5))), 1.5);
  assert.equal(unbox(unpack(pack(new MsgFloat(2)))), 2);
  assert.ok(unpack(pack(new MsgFloat(2))) instanceof MsgFloat); // a whole float stays a float
  for (const size of [0, 31, 32, 255, 256, 65536]) {
    const text = "é".repeat(size);
    assert.equal(unpack(pack(text)), text);
    const bin = new Uint8Array(size).fill(7);
    assert.deepEqual(unpack(pack(bin)), bin);
  }
  for (const size of [0, 15, 16, 65536]) {
    const list = Array.from({ length: size }, (_, i) => i);
    assert.deepEqual(unpack(pack(list)), list);
    const map = Object.fromEntries(list.map((i) => [`k${i}`, i]));
    assert.deepEqual(Object.fromEntries(unpack(pack(map))), map);
  }
});

test("a request round-trips with its args and token", () => {
  const args = { cells: [[3, -2], [4, -2]], scale: 2.5, id: 2 ** 40 };
  const got = decode(encode({ id: 9, op: "snapshot", args, token: "st_x" }));
  assert.deepEqual({ id: got.id, op: got.op, args: got.args, token: got.token }, { id: 9, op: "snapshot", args, token: "st_x" });
});

test("the reader's limits: declared lengths, total items, depth", () => {
  const refuses = (bytes, maxItems, message) =>
    assert.throws(() => unpack(bytes, maxItems), (err) => err instanceof WireError && err.message === message);
  refuses(pack(new Array(11).fill(0)), 10, "payload holds an array of 11 items, more than 10");
  refuses(pack({ a: 1, b: 2, c: 3 }), 2, "payload holds a map of 3 entries, more than 2");
  refuses(pack(Array.from({ length: 10 }, () => [1, 2, 3, 4])), 10, "payload holds more than 50 items in all");
  let deep = 0;
  for (let i = 0; i < 1100; i++) deep = [deep];
  refuses(pack(deep), null, "payload nests deeper than 1024 levels");
  refuses(new Uint8Array([0x92, 0x01]), null, "payload is truncated");
  refuses(new Uint8Array([0xc1]), null, "payload is not msgpack");
  refuses(new Uint8Array([0xa2, 0xff, 0xfe]), null, "payload is not msgpack"); // not UTF-8
});
