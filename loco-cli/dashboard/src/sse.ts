/**
 * Server-sent events over `fetch`: `EventSource` cannot send an `Authorization` header, so streams
 * are read from a `ReadableStream` and parsed here as `text/event-stream`. A stream that drops
 * reconnects with `Last-Event-ID` set to the last id it saw, so the server resumes exactly after it.
 */

import { type Api, ApiError, errorOf } from "./api.js";

export interface SseMessage {
  /** The last event id seen on the stream (`""` when none was sent). */
  id: string;
  /** The `event:` type, `message` by default. */
  event: string;
  data: string;
}

/** An incremental `text/event-stream` parser (the WHATWG algorithm, minus `retry`). */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  lastEventId = "";

  /** Feeds a decoded chunk; returns the messages it completed. */
  feed(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const messages: SseMessage[] = [];
    let start = 0;
    for (;;) {
      const lf = this.buffer.indexOf("\n", start);
      const cr = this.buffer.indexOf("\r", start);
      let end: number;
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        // A `\r` last in the buffer may be the first half of `\r\n`: wait for the next chunk.
        if (cr === this.buffer.length - 1) break;
        end = cr;
      } else if (lf >= 0) {
        end = lf;
      } else {
        break;
      }
      const message = this.line(this.buffer.slice(start, end));
      if (message) messages.push(message);
      const crlf = this.buffer[end] === "\r" && this.buffer[end + 1] === "\n";
      start = end + (crlf ? 2 : 1);
    }
    this.buffer = this.buffer.slice(start);
    return messages;
  }

  private line(line: string): SseMessage | null {
    if (line === "") {
      const message =
        this.data.length > 0
          ? { id: this.lastEventId, event: this.event || "message", data: this.data.join("\n") }
          : null;
      this.data = [];
      this.event = "";
      return message;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    return null;
  }
}

export type StreamState = "connecting" | "open" | "retrying" | "ended";

export interface StreamOptions {
  /** The stream's path, with the query of the first connection (`?after=0`). */
  path: string;
  onMessage(message: SseMessage): void;
  /** Called each time the stream connects; `resumed` when it continued after a known id. */
  onOpen?(resumed: boolean): void;
  onState?(state: StreamState): void;
  /** An answer no retry can change (401, 403, 404, 502, …); the stream stops. */
  onFatal?(error: ApiError): void;
  /** Whether to reconnect after the stream ends (event streams) or to stop (log streams). */
  reconnect: boolean;
}

const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 15_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** One followed stream; `close()` ends it for good. */
export class EventStream {
  private readonly controller = new AbortController();
  private lastEventId: string | null = null;

  constructor(
    private readonly api: Api,
    private readonly options: StreamOptions,
  ) {
    void this.run();
  }

  close(): void {
    this.controller.abort();
  }

  private async run(): Promise<void> {
    const { signal } = this.controller;
    let delay = FIRST_RETRY_MS;
    while (!signal.aborted) {
      this.options.onState?.("connecting");
      let wait = delay;
      try {
        const response = await this.api.openStream(this.options.path, this.lastEventId, signal);
        if (response.ok && response.body) {
          this.options.onState?.("open");
          this.options.onOpen?.(this.lastEventId !== null);
          await this.read(response.body, signal);
          // It was open: the next drop starts the backoff afresh.
          delay = FIRST_RETRY_MS;
          wait = delay;
        } else {
          const error = await errorOf(response);
          // Too many streams, or a timeout: worth another try later. Anything else is final.
          if (response.status !== 429 && response.status !== 503) {
            this.options.onState?.("ended");
            this.options.onFatal?.(error);
            return;
          }
          if (error.retryAfterSeconds !== null) wait = error.retryAfterSeconds * 1000;
        }
      } catch (e) {
        if (signal.aborted) return;
        if (!(e instanceof TypeError || e instanceof ApiError)) console.warn("event stream failed", e);
      }
      if (signal.aborted) return;
      if (!this.options.reconnect) {
        this.options.onState?.("ended");
        return;
      }
      this.options.onState?.("retrying");
      await sleep(wait, signal);
      delay = Math.min(delay * 2, LAST_RETRY_MS);
    }
  }

  private async read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    if (this.lastEventId !== null) parser.lastEventId = this.lastEventId;
    const cancel = () => void reader.cancel().catch(() => undefined);
    signal.addEventListener("abort", cancel);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        for (const message of parser.feed(decoder.decode(value, { stream: true }))) {
          if (message.id !== "") this.lastEventId = message.id;
          if (signal.aborted) return;
          this.options.onMessage(message);
        }
      }
    } finally {
      signal.removeEventListener("abort", cancel);
    }
  }
}
