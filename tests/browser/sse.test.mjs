// The dashboard's event-stream reader, as compiled into loco-cli/dashboard/dist/ (it runs in Node as
// in the browser: fetch, ReadableStream, TextDecoder): the text/event-stream parser on awkwardly
// split input, and a stream that drops and reconnects with Last-Event-ID and its bearer token.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";

import { ROOT, until } from "./loco.mjs";

const dist = (name) => pathToFileURL(join(ROOT, "loco-cli", "dashboard", "dist", name)).href;
const { SseParser, EventStream } = await import(dist("sse.js"));
const { Api } = await import(dist("api.js"));

/** Feeds `text` to a new parser in pieces of `size` characters. */
function parse(text, size) {
  const parser = new SseParser();
  const messages = [];
  for (let i = 0; i < text.length; i += size) messages.push(...parser.feed(text.slice(i, i + size)));
  return messages;
}

test("the parser reads frames however the bytes are split", () => {
  const text =
    ": keep-alive\n\n" +
    'id: 41\r\ndata: {"seq":41}\r\n\r\n' +
    "event: error\rdata: first\rdata:second\r\r" +
    "data: no id of its own\n\n" +
    "id\nretry: 10\ndata\n\n" +
    "data: unfinished";
  const expected = [
    { id: "41", event: "message", data: '{"seq":41}' },
    { id: "41", event: "error", data: "first\nsecond" },
    { id: "41", event: "message", data: "no id of its own" },
    { id: "", event: "message", data: "" },
  ];
  for (const size of [1, 2, 3, 7, 1000]) {
    assert.deepEqual(parse(text, size), expected, `pieces of ${size}`);
  }
});

test("a dropped stream reconnects with Last-Event-ID and the bearer token, and resumes after it", async () => {
  const requests = [];
  const server = createServer((request, response) => {
    requests.push({ url: request.url, auth: request.headers.authorization, last: request.headers["last-event-id"] });
    response.writeHead(200, { "content-type": "text/event-stream" });
    const after = Number(
      request.headers["last-event-id"] ?? new URL(request.url, "http://x").searchParams.get("after"),
    );
    // Two events per connection, then the connection drops.
    response.end(`id: ${after + 1}\ndata: ${after + 1}\n\nid: ${after + 2}\ndata: ${after + 2}\n\n`);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  // The compiled client calls paths relative to the page's origin; in Node, give it the origin.
  const realFetch = globalThis.fetch;
  globalThis.fetch = (path, init) => realFetch(base + path, init);
  const seen = [];
  const opens = [];
  const stream = new EventStream(new Api("loco_secret"), {
    path: "/api/v1/events?after=0",
    reconnect: true,
    onMessage: (m) => seen.push(Number(m.data)),
    onOpen: (resumed) => opens.push(resumed),
  });
  try {
    await until(10_000, "six events over three connections", () => seen.length >= 6);
  } finally {
    stream.close();
    globalThis.fetch = realFetch;
    server.close();
  }
  assert.deepEqual(seen.slice(0, 6), [1, 2, 3, 4, 5, 6], "nothing skipped, nothing repeated");
  assert.deepEqual(opens.slice(0, 3), [false, true, true]);
  assert.deepEqual(
    requests.slice(0, 3).map((r) => r.last ?? null),
    [null, "2", "4"],
    "each reconnect names the last id it saw",
  );
  assert.ok(requests.every((r) => r.auth === "Bearer loco_secret" && r.url === "/api/v1/events?after=0"));
});
