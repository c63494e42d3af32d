/**
 * Who is signed in and what they may do: the API client holding their token, and their grants
 * (`GET /api/v1/whoami`) read with the server's rule — used only to decide which buttons to show;
 * the server still decides every call.
 */

import type { Api, ApiError } from "./api.js";

export type Role = "viewer" | "requester" | "approver" | "deployer" | "admin";

interface Grant {
  role: string;
  environment: string | null;
}

export class Permissions {
  private constructor(private readonly grants: Grant[] | null) {}

  /** A `--no-auth` server: callers may do anything. */
  static unrestricted(): Permissions {
    return new Permissions(null);
  }

  /** Grants as whoami lists them: `role` or `role:environment`. */
  static of(grants: string[]): Permissions {
    return new Permissions(
      grants.map((grant) => {
        const colon = grant.indexOf(":");
        return colon < 0
          ? { role: grant.trim(), environment: null }
          : { role: grant.slice(0, colon).trim(), environment: grant.slice(colon + 1).trim() };
      }),
    );
  }

  /** Whether `role` is held for `environment`; `admin` holds every role, any grant may read. */
  allows(role: Role, environment: string): boolean {
    if (this.grants === null) return true;
    if (role === "viewer") return this.grants.length > 0;
    const env = environment.trim().toLowerCase();
    return this.grants.some(
      (g) => (g.role === role || g.role === "admin") && (g.environment === null || g.environment.toLowerCase() === env),
    );
  }
}

/** What every view gets: the signed-in caller and the ways out. */
export interface Session {
  api: Api;
  permissions: Permissions;
  /** The token's subject (`null` on a `--no-auth` server). */
  subject: string | null;
  /** Shows the view of a `#/…` route. */
  navigate(hash: string): void;
  /** Drops the token (it was revoked or expired, or the user signed out). */
  signOut(reason: ApiError | null): void;
}
