/**
 * The deployments list: filters (service, environment, status), cursor paging, and live updates
 * from the all-events stream (new deployments appear on the first page, statuses change in place).
 */

import { ApiError, type Deployment, type DeploymentPage, type LocoEvent, STATUSES, withQuery } from "./api.js";
import { badge, errorBox, h, replace, when } from "./dom.js";
import type { Session } from "./session.js";
import { EventStream, type StreamState } from "./sse.js";

const PAGE_SIZE = 50;

interface Filters {
  service: string;
  environment: string;
  status: string;
}

/** What a `created` event says about its deployment, as the record the list shows. */
function fromCreated(event: LocoEvent): Deployment | null {
  const data = event.data as Partial<Deployment> | null;
  if (!data || typeof data.service !== "string" || typeof data.environment !== "string") return null;
  return {
    id: event.deployment_id,
    service: data.service,
    environment: data.environment,
    version: String(data.version ?? ""),
    requester: String(data.requester ?? event.actor),
    work_refs: Array.isArray(data.work_refs) ? data.work_refs : [],
    rollback_plan: String(data.rollback_plan ?? ""),
    risk: typeof data.risk === "string" ? data.risk : null,
    status: event.to_status ?? "pending_approval",
    reviewed_by: null,
    reviewed_at: null,
    created_at: event.at,
    updated_at: event.at,
  };
}

export class ListView {
  private filters: Filters = { service: "", environment: "", status: "" };
  /** The cursor of each page walked so far; the last is the current page's (`null`: the first). */
  private cursors: (string | null)[] = [null];
  private nextCursor: string | null = null;
  private readonly shown = new Map<string, { deployment: Deployment; row: HTMLTableRowElement }>();
  private stream: EventStream | null = null;
  private loading: AbortController | null = null;
  /** Whether a page has been shown (live events only apply to one). */
  private loaded = false;
  private readonly body = h("tbody");
  private readonly message = h("div", { class: "message" });
  private readonly live = h("span", { class: "live", "data-testid": "live" }, "connecting");
  private readonly pageLabel = h("span", { class: "page" });
  private readonly newer = h("button", { type: "button", "data-testid": "newer" }, "← Newer");
  private readonly older = h("button", { type: "button", "data-testid": "older" }, "Older →");

  constructor(
    private readonly session: Session,
    private readonly root: HTMLElement,
  ) {}

  mount(): void {
    const service = h("input", { name: "service", placeholder: "service", autocomplete: "off" });
    const environment = h("input", { name: "environment", placeholder: "environment", autocomplete: "off" });
    const status = h(
      "select",
      { name: "status" },
      h("option", { value: "" }, "any status"),
      ...STATUSES.map((s) => h("option", { value: s }, s)),
    );
    const form = h(
      "form",
      { class: "filters", "data-testid": "filters" },
      service,
      environment,
      status,
      h("button", { type: "submit" }, "Filter"),
      h("button", { type: "reset" }, "Clear"),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.filters = { service: service.value.trim(), environment: environment.value.trim(), status: status.value };
      this.cursors = [null];
      void this.load();
    });
    form.addEventListener("reset", () => {
      this.filters = { service: "", environment: "", status: "" };
      this.cursors = [null];
      void this.load();
    });
    this.newer.addEventListener("click", () => {
      if (this.cursors.length > 1) this.cursors.pop();
      void this.load();
    });
    this.older.addEventListener("click", () => {
      if (this.nextCursor === null) return;
      this.cursors.push(this.nextCursor);
      void this.load();
    });
    const table = h(
      "table",
      { class: "deployments", "data-testid": "deployments" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["deployment", "version", "status", "requester", "reviewed by", "updated (UTC)"].map((t) =>
            h("th", {}, t),
          ),
        ),
      ),
      this.body,
    );
    replace(
      this.root,
      h("div", { class: "toolbar" }, h("h2", {}, "Deployments"), this.live),
      form,
      this.message,
      table,
      h("nav", { class: "pager" }, this.newer, this.pageLabel, this.older),
    );
    void this.load();
    this.stream = new EventStream(this.session.api, {
      path: "/api/v1/events",
      reconnect: true,
      onMessage: (m) => {
        if (m.event === "message") this.apply(JSON.parse(m.data) as LocoEvent);
      },
      // A stream that starts live (not resumed) may have missed what happened while it was down.
      onOpen: (resumed) => {
        if (!resumed && this.loaded) void this.load();
      },
      onState: (state: StreamState) => {
        this.live.textContent = state === "open" ? "live" : state;
        this.live.dataset["state"] = state;
      },
      onFatal: (error) => this.fail(error),
    });
  }

  dispose(): void {
    this.stream?.close();
    this.loading?.abort();
  }

  private async load(): Promise<void> {
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    const cursor = this.cursors[this.cursors.length - 1] ?? null;
    const path = withQuery("/api/v1/deployments", {
      ...this.filters,
      limit: String(PAGE_SIZE),
      cursor,
    });
    try {
      const page = await this.session.api.get<DeploymentPage>(path, controller.signal);
      this.nextCursor = page.next_cursor;
      this.render(page.items);
      this.loaded = true;
      this.message.replaceChildren();
    } catch (e) {
      if (controller.signal.aborted) return;
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (e instanceof ApiError && e.status === 401) {
      this.session.signOut(e);
      return;
    }
    const error = e instanceof ApiError ? e : new ApiError(0, "client_error", String(e));
    replace(this.message, errorBox(error.code, error.message));
  }

  private render(items: Deployment[]): void {
    this.shown.clear();
    this.body.replaceChildren();
    if (items.length === 0) {
      this.body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No deployments match.")));
    }
    for (const deployment of items) this.body.append(this.row(deployment));
    this.pageLabel.textContent = `page ${this.cursors.length}`;
    this.newer.disabled = this.cursors.length <= 1;
    this.older.disabled = this.nextCursor === null;
  }

  private row(deployment: Deployment): HTMLTableRowElement {
    const link = h(
      "a",
      { href: `#/deployments/${encodeURIComponent(deployment.id)}` },
      `${deployment.service} · ${deployment.environment}`,
    );
    const row = h(
      "tr",
      { "data-id": deployment.id },
      h("td", {}, link, h("div", { class: "id" }, deployment.id)),
      h("td", {}, deployment.version),
      h("td", {}, badge(deployment.status)),
      h("td", {}, deployment.requester),
      h("td", {}, deployment.reviewed_by ?? "—"),
      h("td", {}, when(deployment.updated_at)),
    );
    this.shown.set(deployment.id, { deployment, row });
    return row;
  }

  /** Applies one committed event to the page. Events come in `seq` order, so the last wins. */
  private apply(event: LocoEvent): void {
    const current = this.shown.get(event.deployment_id);
    if (current) {
      if (event.to_status === null || event.at < current.deployment.updated_at) return;
      const deployment = { ...current.deployment, status: event.to_status, updated_at: event.at };
      if (event.kind === "approved" || event.kind === "rejected") {
        deployment.reviewed_by = event.actor;
        deployment.reviewed_at = event.at;
      }
      current.row.replaceWith(this.row(deployment));
      return;
    }
    if (event.kind !== "created" || this.cursors.length > 1 || !this.loaded) return;
    const deployment = fromCreated(event);
    if (!deployment || !this.matches(deployment)) return;
    const empty = this.shown.size === 0;
    if (empty) this.body.replaceChildren();
    this.body.prepend(this.row(deployment));
    while (this.body.rows.length > PAGE_SIZE) {
      const last = this.body.rows[this.body.rows.length - 1];
      if (!last) break;
      this.shown.delete(last.dataset["id"] ?? "");
      last.remove();
    }
  }

  private matches(deployment: Deployment): boolean {
    const { service, environment, status } = this.filters;
    return (
      (service === "" || deployment.service === service) &&
      (environment === "" || deployment.environment === environment) &&
      (status === "" || deployment.status === status)
    );
  }
}
