export class Permissions {
    grants;
    constructor(grants) {
        this.grants = grants;
    }
    static unrestricted() {
        return new Permissions(null);
    }
    static of(grants) {
        return new Permissions(grants.map((grant) => {
            const colon = grant.indexOf(":");
            return colon < 0
                ? { role: grant.trim(), environment: null }
                : { role: grant.slice(0, colon).trim(), environment: grant.slice(colon + 1).trim() };
        }));
    }
    allows(role, environment) {
        if (this.grants === null)
            return true;
        if (role === "viewer")
            return this.grants.length > 0;
        const env = environment.trim().toLowerCase();
        return this.grants.some((g) => (g.role === role || g.role === "admin") && (g.environment === null || g.environment.toLowerCase() === env));
    }
}
