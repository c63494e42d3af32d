/**
 * One deployment: its record, the actions the caller's grants allow, its rollout (steps, traffic
 * split, analysis verdicts and charts, instances and their live logs), the audit verification,
 * and its event history — all kept current from the deployment's event stream.
 */

import {
  ApiError,
  type AuditReport,
  type Deployment,
  type LocoEvent,
  type Rollout,
  type TrafficWeight,
  type WindowStats,
  deploymentPath,
} from "./api.js";
import { type AnalysisPoint, analysisCharts, splitText, tail, trafficBar } from "./charts.js";
import { badge, errorBox, h, num, replace, when } from "./dom.js";
import type { Role, Session } from "./session.js";
import { EventStream } from "./sse.js";

interface ActionSpec {
  name: "approve" | "reject" | "rollback" | "override";
  label: string;
  role: Role;
  /** The lifecycle requires a note for every action but approve. */
  noteRequired: boolean;
  path(id: string): string;
  applies(deployment: Deployment, rollout: Rollout | null): boolean;
}

const ACTIONS: ActionSpec[] = [
  {
    name: "approve",
    label: "Approve",
    role: "approver",
    noteRequired: false,
    path: (id) => deploymentPath(id, "/approve"),
    applies: (d) => d.status === "pending_approval",
  },
  {
    name: "reject",
    label: "Reject",
    role: "approver",
    noteRequired: true,
    path: (id) => deploymentPath(id, "/reject"),
    applies: (d) => d.status === "pending_approval",
  },
  {
    name: "rollback",
    label: "Roll back",
    role: "deployer",
    noteRequired: true,
    path: (id) => deploymentPath(id, "/rollback"),
    applies: (d) => d.status === "started" || d.status === "succeeded" || d.status === "failed",
  },
  {
    name: "override",
    label: "Override the pause",
    role: "deployer",
    noteRequired: true,
    path: (id) => deploymentPath(id, "/rollout/override"),
    applies: (_, r) => r?.state === "paused",
  },
];

/** Event kinds after which the rollout record has changed. */
const ROLLOUT_KINDS = new Set([
  "started",
  "succeeded",
  "failed",
  "rolled_back",
  "step_progress",
  "analysis",
  "canary_promoted",
  "validation",
]);

const MAX_LOG_LINES = 500;

interface AnalysisData {
  traffic_percent: number | null;
  trigger: string | null;
  judgement: { canary: WindowStats; baseline: WindowStats | null };
}

function asError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, "client_error", String(e));
}

/** A short text of an event's data. */
function summary(event: LocoEvent): string {
  const data = event.data as Record<string, unknown> | null;
  if (data === null || typeof data !== "object") return "";
  if (event.kind === "step_progress" && typeof data["step"] === "number") {
    const action = data["action"] as { action?: string; percent?: number } | string | undefined;
    const what =
      typeof action === "object"
        ? `${action.action ?? ""}${action.percent !== undefined ? ` ${action.percent}%` : ""}`
        : String(action);
    const traffic = (data["traffic"] as TrafficWeight[] | undefined) ?? [];
    return `step ${data["step"]}/${String(data["of"])}: ${what} → ${splitText(traffic)}`;
  }
  if (event.kind === "analysis") {
    const judgement = data["judgement"] as { verdict?: string; reasons?: string[] } | undefined;
    return `${judgement?.verdict ?? "?"}${judgement?.reasons?.length ? `: ${judgement.reasons.join("; ")}` : ""}`;
  }
  if (event.kind === "created") return "";
  const text = JSON.stringify(data);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

export class DeploymentView {
  private deployment: Deployment | null = null;
  private rollout: Rollout | null = null;
  private rolloutMissing = false;
  private lastSeq = 0;
  private readonly points: AnalysisPoint[] = [];
  private stream: EventStream | null = null;
  private logs: EventStream | null = null;
  private readonly timers = new Map<string, number>();
  private disposed = false;

  private readonly header = h("div", { class: "header" });
  private readonly facts = h("dl", { class: "facts" });
  private readonly actionBar = h("div", { class: "actions", "data-testid": "actions" });
  private readonly actionForm = h("div", { class: "action-form" });
  private readonly actionMessage = h("div", { class: "message", "data-testid": "action-message" });
  private readonly rolloutBox = h("section", { class: "rollout", "data-testid": "rollout" });
  private readonly logsBox = h("section", { class: "logs", "data-testid": "logs" });
  private readonly auditBox = h("section", { class: "audit" });
  private readonly eventsBody = h("tbody");
  private readonly message = h("div", { class: "message" });

  constructor(
    private readonly session: Session,
    private readonly root: HTMLElement,
    private readonly id: string,
  ) {}

  mount(): void {
    replace(
      this.root,
      h("p", {}, h("a", { href: "#/" }, "← Deployments")),
      this.message,
      this.header,
      this.facts,
      this.actionBar,
      this.actionForm,
      this.actionMessage,
      this.rolloutBox,
      this.logsBox,
      this.auditBox,
      h(
        "section",
        { class: "history" },
        h("h3", {}, "Event history"),
        h(
          "table",
          { class: "events", "data-testid": "events" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["seq", "at (UTC)", "kind", "actor", "status", "note", "details"].map((t) => h("th", {}, t)),
            ),
          ),
          this.eventsBody,
        ),
      ),
    );
    replace(this.header, h("h2", {}, "Deployment ", h("span", { class: "id" }, this.id)));
    replace(this.rolloutBox, h("h3", {}, "Rollout"), h("p", { class: "muted" }, "Loading…"));
    void this.loadDeployment();
    void this.loadRollout();
    this.offerAudit();
    this.stream = new EventStream(this.session.api, {
      path: `${deploymentPath(this.id, "/events/stream")}?after=0`,
      reconnect: true,
      onMessage: (m) => {
        if (m.event === "message") this.apply(JSON.parse(m.data) as LocoEvent);
      },
      onFatal: (error) => this.fail(error, this.message),
    });
  }

  dispose(): void {
    this.disposed = true;
    this.stream?.close();
    this.logs?.close();
    for (const timer of this.timers.values()) clearTimeout(timer);
  }

  private fail(e: unknown, where: HTMLElement): void {
    const error = asError(e);
    if (error.status === 401) {
      this.session.signOut(error);
      return;
    }
    replace(where, errorBox(error.code, error.message));
  }

  /** Runs `task` once after a quiet spell, however often it was asked for meanwhile. */
  private soon(key: string, task: () => void, ms = 150): void {
    if (this.timers.has(key) || this.disposed) return;
    this.timers.set(
      key,
      window.setTimeout(() => {
        this.timers.delete(key);
        if (!this.disposed) task();
      }, ms),
    );
  }

  private async loadDeployment(): Promise<void> {
    try {
      this.deployment = await this.session.api.get<Deployment>(deploymentPath(this.id));
      this.renderDeployment();
    } catch (e) {
      this.fail(e, this.message);
    }
  }

  private async loadRollout(): Promise<void> {
    try {
      this.rollout = await this.session.api.get<Rollout>(deploymentPath(this.id, "/rollout"));
      this.rolloutMissing = false;
    } catch (e) {
      const error = asError(e);
      if (error.code !== "not_found") {
        this.fail(error, this.rolloutBox);
        return;
      }
      this.rollout = null;
      this.rolloutMissing = true;
    }
    this.renderRollout();
    this.renderActions();
  }

  /**
   * The audit check walks the whole chain (seconds on a database of 100,000 deployments), so it
   * runs when asked, not on every page open.
   */
  private offerAudit(): void {
    const verify = h("button", { type: "button", "data-testid": "verify-audit" }, "Verify the audit chain");
    verify.addEventListener("click", () => void this.verifyAudit());
    replace(
      this.auditBox,
      h("h3", {}, "Audit"),
      h("p", { class: "muted" }, "Replays every event of every deployment and checks the hash chain."),
      verify,
    );
  }

  private async verifyAudit(): Promise<void> {
    replace(this.auditBox, h("h3", {}, "Audit"), h("p", { class: "muted" }, "Verifying the audit chain…"));
    try {
      const report = await this.session.api.get<AuditReport>("/api/v1/audit/verify");
      const again = h("button", { type: "button" }, "Verify again");
      again.addEventListener("click", () => void this.verifyAudit());
      const broken = report.first_broken;
      replace(
        this.auditBox,
        h("h3", {}, "Audit"),
        h(
          "p",
          {
            class: report.valid ? "audit-ok" : "audit-bad",
            "data-testid": "audit",
            "data-valid": String(report.valid),
          },
          report.valid ? "✔ chain valid" : "✘ chain broken",
          ` — ${report.events_checked} events, ${report.deployments_checked} deployments checked`,
          broken ? `; first problem at seq ${broken.seq}: ${broken.reason}` : "",
          broken ? ` (deployment ${broken.deployment_id}${broken.field ? `, field ${broken.field}` : ""})` : "",
        ),
        again,
      );
    } catch (e) {
      replace(this.auditBox, h("h3", {}, "Audit"));
      const box = h("div");
      this.auditBox.append(box);
      this.fail(e, box);
    }
  }

  /** One event of the stream: history, then whatever it changed. */
  private apply(event: LocoEvent): void {
    if (event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    this.eventsBody.append(
      h(
        "tr",
        { "data-kind": event.kind },
        h("td", {}, String(event.seq)),
        h("td", {}, when(event.at)),
        h("td", {}, event.kind),
        h("td", {}, event.actor),
        h("td", {}, event.to_status ? `${event.from_status ?? "—"} → ${event.to_status}` : ""),
        h("td", {}, event.note ?? ""),
        h("td", { class: "details" }, summary(event)),
      ),
    );
    if (event.kind === "analysis") {
      const data = event.data as AnalysisData | null;
      if (data?.judgement?.canary) {
        const label = data.traffic_percent === null ? "—" : `${data.traffic_percent}%`;
        this.points.push({ label, canary: data.judgement.canary, baseline: data.judgement.baseline });
      }
    }
    if (event.kind === "step_progress" && this.rollout) {
      const traffic = (event.data as { traffic?: TrafficWeight[] } | null)?.traffic;
      if (Array.isArray(traffic)) this.rollout.progress.traffic = traffic;
      this.soon("render-rollout", () => this.renderRollout(), 0);
    }
    if (event.to_status !== null && this.deployment) {
      this.deployment.status = event.to_status;
      this.deployment.updated_at = event.at;
      this.renderDeployment();
      this.soon("deployment", () => void this.loadDeployment());
    }
    if (ROLLOUT_KINDS.has(event.kind) || event.kind === "analysis") this.soon("rollout", () => void this.loadRollout());
  }

  private renderDeployment(): void {
    const d = this.deployment;
    if (!d) return;
    replace(
      this.header,
      h(
        "h2",
        {},
        `${d.service} · ${d.environment} · ${d.version} `,
        h("span", { "data-testid": "status" }, badge(d.status)),
      ),
    );
    const fact = (term: string, value: string) => [h("dt", {}, term), h("dd", {}, value)];
    replace(
      this.facts,
      ...fact("id", d.id),
      ...fact("requester", d.requester),
      ...fact("reviewed by", d.reviewed_by ? `${d.reviewed_by} at ${when(d.reviewed_at)}` : "—"),
      ...fact("work refs", d.work_refs.join(", ")),
      ...fact("rollback plan", d.rollback_plan),
      ...fact("risk", d.risk ?? "—"),
      ...fact("created", when(d.created_at)),
      ...fact("updated", when(d.updated_at)),
    );
    this.renderActions();
  }

  /** The buttons the caller's grants allow in the current state. */
  private renderActions(): void {
    const d = this.deployment;
    if (!d) return;
    const allowed = ACTIONS.filter((a) => this.session.permissions.allows(a.role, d.environment));
    const applicable = allowed.filter((a) => a.applies(d, this.rollout));
    const buttons = applicable.map((spec) => {
      const button = h("button", { type: "button", "data-action": spec.name }, spec.label);
      button.addEventListener("click", () => this.openForm(spec));
      return button;
    });
    if (buttons.length > 0) {
      replace(this.actionBar, ...buttons);
    } else {
      const why = allowed.length === 0 ? "Your grants allow no action on this deployment." : "No action applies now.";
      replace(this.actionBar, h("p", { class: "muted", "data-testid": "no-actions" }, why));
    }
  }

  private openForm(spec: ActionSpec): void {
    this.actionMessage.replaceChildren();
    const note = h("textarea", {
      name: "note",
      rows: 2,
      placeholder: spec.noteRequired ? "why (required)" : "note (optional)",
      required: spec.noteRequired,
      "data-testid": "note",
    });
    const confirm = h("button", { type: "submit", "data-testid": "confirm" }, spec.label);
    const cancel = h("button", { type: "button" }, "Cancel");
    const form = h(
      "form",
      { "data-action": spec.name },
      h("label", {}, spec.noteRequired ? `${spec.label}: a note is required` : `${spec.label}: note`, note),
      confirm,
      cancel,
    );
    cancel.addEventListener("click", () => this.closeForm());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = note.value.trim();
      if (spec.noteRequired && text === "") {
        replace(this.actionMessage, errorBox("note_required", `${spec.label} needs a note saying why`));
        return;
      }
      confirm.disabled = true;
      void this.act(spec, text).finally(() => {
        confirm.disabled = false;
      });
    });
    replace(this.actionForm, form);
    note.focus();
  }

  private closeForm(): void {
    this.actionForm.replaceChildren();
  }

  private async act(spec: ActionSpec, note: string): Promise<void> {
    try {
      const body = note === "" ? {} : { note };
      if (spec.name === "override") {
        this.rollout = await this.session.api.post<Rollout>(spec.path(this.id), body);
        this.renderRollout();
      } else {
        this.deployment = await this.session.api.post<Deployment>(spec.path(this.id), body);
        this.renderDeployment();
      }
      this.closeForm();
      replace(this.actionMessage, h("p", { class: "ok", "data-testid": "action-ok" }, `${spec.label}: done.`));
      this.renderActions();
    } catch (e) {
      const error = asError(e);
      if (error.status === 401) {
        this.session.signOut(error);
        return;
      }
      replace(
        this.actionMessage,
        h("div", { "data-testid": "action-error", "data-code": error.code }, errorBox(error.code, error.message)),
      );
    }
  }

  private renderRollout(): void {
    const r = this.rollout;
    if (!r) {
      if (this.rolloutMissing)
        replace(this.rolloutBox, h("h3", {}, "Rollout"), h("p", { class: "muted" }, "No rollout."));
      return;
    }
    const newVersion = r.plan.release?.version ?? this.deployment?.version ?? null;
    const p = r.progress;
    const analysis = p.analysis;
    replace(
      this.rolloutBox,
      h("h3", {}, "Rollout ", h("span", { "data-testid": "rollout-state" }, badge(r.state))),
      h(
        "p",
        { "data-testid": "steps" },
        `step ${p.completed_steps}/${p.total_steps}: ${p.step}`,
        r.previous ? ` · replacing ${r.previous.version}` : "",
        p.endpoint ? ` · endpoint ${p.endpoint}` : "",
      ),
      trafficBar(p.traffic, newVersion),
      r.failure
        ? h(
            "p",
            { class: "error", "data-testid": "failure" },
            h("strong", {}, r.failure.code),
            `: ${r.failure.message}`,
          )
        : null,
      analysis ? this.analysisBlock(analysis, newVersion, r.previous?.version ?? null) : null,
      this.points.length > 0 ? analysisCharts(this.points) : null,
      this.instances(r),
    );
  }

  private analysisBlock(
    analysis: NonNullable<Rollout["progress"]["analysis"]>,
    newVersion: string | null,
    oldVersion: string | null,
  ): HTMLElement {
    const row = (who: string, s: WindowStats | null) =>
      s
        ? h(
            "tr",
            {},
            h("td", {}, who),
            h("td", {}, String(s.requests)),
            h("td", {}, String(s.errors)),
            h("td", {}, s.requests > 0 ? `${num(s.error_rate * 100)}%` : "—"),
            h("td", {}, num(s.p50_ms)),
            h("td", {}, num(tail(s))),
          )
        : null;
    return h(
      "div",
      { class: "analysis", "data-testid": "analysis" },
      h(
        "p",
        {},
        "latest verdict ",
        badge(analysis.verdict),
        analysis.severity ? ` (${analysis.severity})` : "",
        analysis.reasons.length ? `: ${analysis.reasons.join("; ")}` : "",
      ),
      h(
        "table",
        { class: "stats" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["version", "requests", "errors", "error rate", "p50 ms", "tail ms"].map((t) => h("th", {}, t)),
          ),
        ),
        h(
          "tbody",
          {},
          row(`${newVersion ?? "canary"} (canary)`, analysis.canary),
          row(`${oldVersion ?? "baseline"} (baseline)`, analysis.baseline),
        ),
      ),
    );
  }

  private instances(r: Rollout): HTMLElement | null {
    if (r.progress.instances.length === 0) return null;
    return h(
      "table",
      { class: "instances", "data-testid": "instances" },
      h("thead", {}, h("tr", {}, ...["instance", "version", "address", "pid", "state", ""].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        ...r.progress.instances.map((instance) => {
          const follow = h("button", { type: "button", "data-instance": instance.id }, "Follow logs");
          follow.addEventListener("click", () => this.followLogs(instance.id));
          return h(
            "tr",
            {},
            h("td", { class: "id" }, instance.id),
            h("td", {}, instance.version),
            h("td", {}, instance.address ?? "—"),
            h("td", {}, instance.pid === null ? "—" : String(instance.pid)),
            h("td", {}, instance.state),
            h("td", {}, follow),
          );
        }),
      ),
    );
  }

  /** Streams one instance's output (its recent lines, then new ones) into the logs panel. */
  private followLogs(instanceId: string): void {
    this.logs?.close();
    const lines = h("div", { class: "log-lines", "data-testid": "log-lines" });
    const state = h("span", { class: "live" }, "connecting");
    const stop = h("button", { type: "button" }, "Stop");
    stop.addEventListener("click", () => {
      this.logs?.close();
      state.textContent = "stopped";
    });
    replace(
      this.logsBox,
      h("h3", {}, "Logs of ", h("span", { class: "id" }, instanceId), " ", state, " ", stop),
      lines,
    );
    this.logs = new EventStream(this.session.api, {
      path: deploymentPath(this.id, `/rollout/instances/${encodeURIComponent(instanceId)}/logs`),
      // A reconnect would replay the recent lines again; the stream ends when the instance stops.
      reconnect: false,
      onMessage: (m) => {
        const line = JSON.parse(m.data) as { stream?: string; line?: string };
        lines.append(
          h("div", { class: `log-line ${line.stream === "stderr" ? "stderr" : "stdout"}` }, line.line ?? ""),
        );
        while (lines.childElementCount > MAX_LOG_LINES) lines.firstElementChild?.remove();
        lines.scrollTop = lines.scrollHeight;
      },
      onState: (s) => {
        state.textContent = s === "open" ? "live" : s;
      },
      onFatal: (error) => {
        lines.append(errorBox(error.code, error.message));
      },
    });
  }
}
