/**
 * The dashboard's entry point: sign-in (the API token is kept in memory only — a reload signs
 * out), the header, and the `#/…` routes: `#/` the deployments list, `#/deployments/{id}` one
 * deployment. A `--no-auth` server answers `whoami` without a token, and then there is no sign-in.
 */

import { Api, ApiError, type WhoAmI, errorOf } from "./api.js";
import { DeploymentView } from "./detail.js";
import { errorBox, h, replace } from "./dom.js";
import { ListView } from "./list.js";
import { Permissions, type Session } from "./session.js";

interface View {
  mount(): void;
  dispose(): void;
}

const top = document.getElementById("top") as HTMLElement;
const main = document.getElementById("app") as HTMLElement;
let session: Session | null = null;
let view: View | null = null;

function route(): void {
  view?.dispose();
  view = null;
  if (!session) return;
  const match = /^#\/deployments\/([^/?#]+)$/.exec(location.hash);
  const id = match?.[1] ? decodeURIComponent(match[1]) : null;
  view = id ? new DeploymentView(session, main, id) : new ListView(session, main);
  view.mount();
  document.title = id ? `${id} · Loco` : "Deployments · Loco";
}

function renderHeader(who: WhoAmI | null, api: Api): void {
  const home = h("a", { href: "#/", class: "brand" }, "Loco");
  if (!session) {
    replace(top, home);
    return;
  }
  if (!api.authenticated) {
    const name = h("input", { name: "actor", placeholder: "your name", autocomplete: "off", "data-testid": "actor" });
    name.value = api.actor ?? "";
    name.addEventListener("input", () => {
      api.actor = name.value.trim() || null;
    });
    replace(top, home, h("span", { class: "who" }, "no authentication (--no-auth) · acting as ", name));
    return;
  }
  const out = h("button", { type: "button", "data-testid": "sign-out" }, "Sign out");
  out.addEventListener("click", () => signOut(null));
  replace(
    top,
    home,
    h(
      "span",
      { class: "who", "data-testid": "who" },
      `${who?.subject ?? "?"} (${who?.grants.join(", ") || "no grants"})`,
    ),
    out,
  );
}

function start(api: Api, who: WhoAmI | null): void {
  const permissions = api.authenticated ? Permissions.of(who?.grants ?? []) : Permissions.unrestricted();
  session = {
    api,
    permissions,
    subject: who?.subject ?? null,
    navigate: (hash) => {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
    signOut,
  };
  renderHeader(who, api);
  route();
}

function signOut(reason: ApiError | null): void {
  view?.dispose();
  view = null;
  session = null;
  renderHeader(null, new Api(null));
  signIn(reason);
}

function signIn(reason: ApiError | null): void {
  const secret = h("input", {
    type: "password",
    name: "token",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "loco_…",
    required: true,
    "data-testid": "token",
  });
  const message = h("div", { class: "message" });
  if (reason) message.append(errorBox(reason.code, reason.message));
  const form = h(
    "form",
    { class: "sign-in", "data-testid": "sign-in" },
    h("h2", {}, "Sign in"),
    h(
      "p",
      {},
      "Paste an API token (",
      h("code", {}, "loco tokens create"),
      "). It stays in this page's memory only: reloading the page signs you out.",
    ),
    h("label", {}, "API token ", secret),
    h("button", { type: "submit" }, "Sign in"),
    message,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const api = new Api(secret.value.trim());
    secret.value = "";
    void api.get<WhoAmI>("/api/v1/whoami").then(
      (who) => start(api, who),
      (error: unknown) => {
        const e = error instanceof ApiError ? error : new ApiError(0, "client_error", String(error));
        replace(message, errorBox(e.code, e.message));
      },
    );
  });
  replace(main, form);
  secret.focus();
}

/** Whether this server runs without authentication: then `whoami` answers without a token. */
async function boot(): Promise<void> {
  renderHeader(null, new Api(null));
  try {
    const response = await fetch("/api/v1/whoami", { credentials: "omit", cache: "no-store" });
    if (response.ok) {
      start(new Api(null), (await response.json()) as WhoAmI);
      return;
    }
    if (response.status !== 401) {
      const error = await errorOf(response);
      replace(main, errorBox(error.code, error.message));
      return;
    }
  } catch (e) {
    replace(main, errorBox("network_error", `the server did not answer (${String(e)})`));
    return;
  }
  signIn(null);
}

window.addEventListener("hashchange", route);
void boot();
