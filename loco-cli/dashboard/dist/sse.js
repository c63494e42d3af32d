import { ApiError, errorOf } from "./api.js";
export class SseParser {
    buffer = "";
    data = [];
    event = "";
    lastEventId = "";
    feed(chunk) {
        this.buffer += chunk;
        const messages = [];
        let start = 0;
        for (;;) {
            const lf = this.buffer.indexOf("\n", start);
            const cr = this.buffer.indexOf("\r", start);
            let end;
            if (cr >= 0 && (lf < 0 || cr < lf)) {
                if (cr === this.buffer.length - 1)
                    break;
                end = cr;
            }
            else if (lf >= 0) {
                end = lf;
            }
            else {
                break;
            }
            const message = this.line(this.buffer.slice(start, end));
            if (message)
                messages.push(message);
            const crlf = this.buffer[end] === "\r" && this.buffer[end + 1] === "\n";
            start = end + (crlf ? 2 : 1);
        }
        this.buffer = this.buffer.slice(start);
        return messages;
    }
    line(line) {
        if (line === "") {
            const message = this.data.length > 0
                ? { id: this.lastEventId, event: this.event || "message", data: this.data.join("\n") }
                : null;
            this.data = [];
            this.event = "";
            return message;
        }
        if (line.startsWith(":"))
            return null;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" "))
            value = value.slice(1);
        if (field === "data")
            this.data.push(value);
        else if (field === "event")
            this.event = value;
        else if (field === "id" && !value.includes("\0"))
            this.lastEventId = value;
        return null;
    }
}
const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 15_000;
function sleep(ms, signal) {
    return new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
        }, { once: true });
    });
}
export class EventStream {
    api;
    options;
    controller = new AbortController();
    lastEventId = null;
    constructor(api, options) {
        this.api = api;
        this.options = options;
        void this.run();
    }
    close() {
        this.controller.abort();
    }
    async run() {
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
                    delay = FIRST_RETRY_MS;
                    wait = delay;
                }
                else {
                    const error = await errorOf(response);
                    if (response.status !== 429 && response.status !== 503) {
                        this.options.onState?.("ended");
                        this.options.onFatal?.(error);
                        return;
                    }
                    if (error.retryAfterSeconds !== null)
                        wait = error.retryAfterSeconds * 1000;
                }
            }
            catch (e) {
                if (signal.aborted)
                    return;
                if (!(e instanceof TypeError || e instanceof ApiError))
                    console.warn("event stream failed", e);
            }
            if (signal.aborted)
                return;
            if (!this.options.reconnect) {
                this.options.onState?.("ended");
                return;
            }
            this.options.onState?.("retrying");
            await sleep(wait, signal);
            delay = Math.min(delay * 2, LAST_RETRY_MS);
        }
    }
    async read(body, signal) {
        const reader = body.getReader();
        const decoder = new TextDecoder();
        const parser = new SseParser();
        if (this.lastEventId !== null)
            parser.lastEventId = this.lastEventId;
        const cancel = () => void reader.cancel().catch(() => undefined);
        signal.addEventListener("abort", cancel);
        try {
            for (;;) {
                const { value, done } = await reader.read();
                if (done)
                    return;
                for (const message of parser.feed(decoder.decode(value, { stream: true }))) {
                    if (message.id !== "")
                        this.lastEventId = message.id;
                    if (signal.aborted)
                        return;
                    this.options.onMessage(message);
                }
            }
        }
        finally {
            signal.removeEventListener("abort", cancel);
        }
    }
}
