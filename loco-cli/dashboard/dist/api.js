export const STATUSES = [
    "pending_approval",
    "approved",
    "rejected",
    "started",
    "succeeded",
    "failed",
    "rolled_back",
];
export class ApiError extends Error {
    status;
    code;
    retryAfterSeconds;
    constructor(status, code, message, retryAfterSeconds = null) {
        super(message);
        this.status = status;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }
}
export async function errorOf(response) {
    const retry = Number(response.headers.get("Retry-After"));
    const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
    try {
        const body = (await response.json());
        if (typeof body.error?.code === "string" && typeof body.error.message === "string") {
            return new ApiError(response.status, body.error.code, body.error.message, retryAfter);
        }
    }
    catch {
    }
    return new ApiError(response.status, `http_${response.status}`, response.statusText || "request failed", retryAfter);
}
export function withQuery(path, query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
        if (value !== null && value !== undefined && value !== "")
            params.set(key, value);
    }
    const text = params.toString();
    return text ? `${path}?${text}` : path;
}
export function deploymentPath(id, rest = "") {
    return `/api/v1/deployments/${encodeURIComponent(id)}${rest}`;
}
export class Api {
    token;
    actor;
    constructor(token, actor = null) {
        this.token = token;
        this.actor = actor;
    }
    get authenticated() {
        return this.token !== null;
    }
    headers(accept) {
        const headers = new Headers({ Accept: accept });
        if (this.token !== null)
            headers.set("Authorization", `Bearer ${this.token}`);
        return headers;
    }
    async get(path, signal) {
        return this.call("GET", path, undefined, signal);
    }
    async post(path, body) {
        const sent = this.token === null && this.actor ? { ...body, actor: this.actor } : body;
        return this.call("POST", path, sent);
    }
    async call(method, path, body, signal) {
        const headers = this.headers("application/json");
        const init = { method, headers, credentials: "omit", cache: "no-store" };
        if (signal)
            init.signal = signal;
        if (body !== undefined) {
            headers.set("Content-Type", "application/json");
            init.body = JSON.stringify(body);
        }
        let response;
        try {
            response = await fetch(path, init);
        }
        catch (e) {
            if (signal?.aborted)
                throw e;
            throw new ApiError(0, "network_error", `the server did not answer (${String(e)})`);
        }
        if (!response.ok)
            throw await errorOf(response);
        return (await response.json());
    }
    openStream(path, lastEventId, signal) {
        const headers = this.headers("text/event-stream");
        if (lastEventId !== null)
            headers.set("Last-Event-ID", lastEventId);
        return fetch(path, { headers, signal, credentials: "omit", cache: "no-store" });
    }
}
