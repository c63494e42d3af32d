/**
 * The Loco HTTP API as the dashboard calls it: the records it reads, and a client that sends the
 * signed-in token as `Authorization: Bearer` on every call. The token lives only in this object
 * (memory): no cookie, no storage, so the browser never sends a credential by itself.
 */

export type Status = "pending_approval" | "approved" | "rejected" | "started" | "succeeded" | "failed" | "rolled_back";

export const STATUSES: readonly Status[] = [
  "pending_approval",
  "approved",
  "rejected",
  "started",
  "succeeded",
  "failed",
  "rolled_back",
];

export interface Deployment {
  id: string;
  service: string;
  environment: string;
  version: string;
  requester: string;
  work_refs: string[];
  rollback_plan: string;
  risk: string | null;
  status: Status;
  reviewed_by: string | null;
  reviewed_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface DeploymentPage {
  items: Deployment[];
  next_cursor: string | null;
}

export interface LocoEvent {
  seq: number;
  id: string;
  deployment_id: string;
  kind: string;
  actor: string;
  note: string | null;
  from_status: Status | null;
  to_status: Status | null;
  at: string;
  hash: string;
  data: unknown;
}

export interface TrafficWeight {
  version: string;
  percent: number;
}

export interface Instance {
  id: string;
  version: string;
  address: string | null;
  pid: number | null;
  state: string;
}

export interface WindowStats {
  requests: number;
  errors: number;
  error_rate: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
}

export interface Judgement {
  verdict: string;
  severity: string | null;
  reasons: string[];
  canary: WindowStats;
  baseline: WindowStats | null;
}

export interface Rollout {
  deployment_id: string;
  state: string;
  plan: { release?: { version?: string } };
  progress: {
    completed_steps: number;
    total_steps: number;
    step: string;
    traffic: TrafficWeight[];
    instances: Instance[];
    endpoint: string | null;
    analysis: Judgement | null;
  };
  previous: { version: string } | null;
  failure: { code: string; message: string; step: number | null } | null;
  actor: string;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface WhoAmI {
  subject: string | null;
  grants: string[];
  token_id: string | null;
}

export interface AuditReport {
  valid: boolean;
  events_checked: number;
  deployments_checked: number;
  first_broken: { seq: number; event_id: string; deployment_id: string; field: string | null; reason: string } | null;
}

/** An error answer of the API (`{"error": {"code", "message", "details"}}`), or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }
}

/** The `ApiError` of a failed response. */
export async function errorOf(response: Response): Promise<ApiError> {
  const retry = Number(response.headers.get("Retry-After"));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string" && typeof body.error.message === "string") {
      return new ApiError(response.status, body.error.code, body.error.message, retryAfter);
    }
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new ApiError(response.status, `http_${response.status}`, response.statusText || "request failed", retryAfter);
}

/** A path with its query string; empty values are left out. */
export function withQuery(path: string, query: Record<string, string | null | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") params.set(key, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** The path of one deployment (and a sub-resource). */
export function deploymentPath(id: string, rest = ""): string {
  return `/api/v1/deployments/${encodeURIComponent(id)}${rest}`;
}

export class Api {
  /**
   * `token` is null on a `--no-auth` server, whose callers name themselves: `actor` is then sent
   * in every action's body.
   */
  constructor(
    private readonly token: string | null,
    public actor: string | null = null,
  ) {}

  get authenticated(): boolean {
    return this.token !== null;
  }

  private headers(accept: string): Headers {
    const headers = new Headers({ Accept: accept });
    if (this.token !== null) headers.set("Authorization", `Bearer ${this.token}`);
    return headers;
  }

  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.call<T>("GET", path, undefined, signal);
  }

  async post<T>(path: string, body: Record<string, unknown>): Promise<T> {
    const sent = this.token === null && this.actor ? { ...body, actor: this.actor } : body;
    return this.call<T>("POST", path, sent);
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers = this.headers("application/json");
    const init: RequestInit = { method, headers, credentials: "omit", cache: "no-store" };
    if (signal) init.signal = signal;
    if (body !== undefined) {
      headers.set("Content-Type", "application/json");
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new ApiError(0, "network_error", `the server did not answer (${String(e)})`);
    }
    if (!response.ok) throw await errorOf(response);
    return (await response.json()) as T;
  }

  /** Opens a `text/event-stream`, resuming after `lastEventId` when given. */
  openStream(path: string, lastEventId: string | null, signal: AbortSignal): Promise<Response> {
    const headers = this.headers("text/event-stream");
    if (lastEventId !== null) headers.set("Last-Event-ID", lastEventId);
    return fetch(path, { headers, signal, credentials: "omit", cache: "no-store" });
  }
}
