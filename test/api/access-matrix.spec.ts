import { expect } from "chai";
import type { Access, RouteDef } from "../../server/src/http/route";
import { login, type BrowserSession } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";

/**
 * Walks every route mounted on the Koa router and checks the authorization layer against its declared access
 * level. A route mounted without a declaration, or with an unknown access level, fails here.
 */
const ACCESS_LEVELS: readonly Access[] = ["public", "upload", "read", "user", "admin"];
const OPEN: ReadonlySet<Access> = new Set(["public", "upload", "read"]);
const SAFE = new Set(["get", "head", "options"]);

const concretePath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "does-not-exist");

function send(server: TestServer, route: RouteDef, headers: Record<string, string> = {}) {
  const init: RequestInit = { method: route.method.toUpperCase(), headers: { ...headers } };
  if (!SAFE.has(route.method)) {
    init.headers = { "content-type": "application/json", ...headers };
    init.body = "{}";
  }
  return server.request(concretePath(route.path), init);
}

describe("access matrix over every registered route", function () {
  let server: TestServer;
  let admin: BrowserSession;
  let user: BrowserSession;
  let readToken: string;
  let uploadToken: string;

  before(async () => {
    server = await startTestServer({ LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
    const created = await admin.json("POST", "/api/users", {
      username: "viewer",
      password: "Viewer-Passw0rd",
      isAdmin: false,
      requirePasswordChange: false,
    });
    expect(created.status, await created.clone().text()).to.equal(201);
    user = await login(server, "viewer", "Viewer-Passw0rd");
    const tokenRes = await admin.json("POST", "/api/tokens", { name: "matrix-read", scope: "read" });
    expect(tokenRes.status).to.equal(201);
    readToken = ((await tokenRes.json()) as { token: string }).token;
    const upRes = await admin.json("POST", "/api/tokens", { name: "matrix-upload", scope: "upload" });
    uploadToken = ((await upRes.json()) as { token: string }).token;
  });
  after(() => server.close());

  it("mounts only declared routes, each with a known access level", () => {
    const declared = new Map(server.app.routes.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r]));
    const layers = server.app.router.stack.flatMap((layer) =>
      layer.methods.filter((m) => m !== "HEAD").map((m) => `${m} ${layer.path}`),
    );
    expect(layers.length).to.be.greaterThan(10);
    for (const key of layers) {
      const route = declared.get(key);
      expect(route, `${key} is mounted but not declared`).to.not.equal(undefined);
      expect(ACCESS_LEVELS, `${key} has access ${String(route?.access)}`).to.include(route?.access);
    }
  });

  it("answers 401 to anonymous callers on every route that is not open", async () => {
    for (const route of server.app.routes) {
      const res = await send(server, route);
      const label = `${route.method.toUpperCase()} ${route.path}`;
      // Open routes may still answer 401 for their own reasons (GET /api/session without a cookie, as upstream);
      // the external upload/read endpoints must not while keys are optional.
      if (route.access === "upload" || route.access === "read") expect(res.status, label).to.not.equal(401);
      else if (!OPEN.has(route.access)) {
        expect(res.status, label).to.equal(401);
        expect(((await res.json()) as { error: string }).error, label).to.be.a("string");
      }
    }
  });

  it("answers 403 to a non-admin user on every admin route", async () => {
    for (const route of server.app.routes.filter((r) => r.access === "admin")) {
      const res = await user.request(concretePath(route.path), {
        method: route.method.toUpperCase(),
        ...(SAFE.has(route.method) ? {} : { headers: { "content-type": "application/json" }, body: "{}" }),
      });
      expect(res.status, `${route.method.toUpperCase()} ${route.path}`).to.equal(403);
    }
  });

  it("answers 403 to a cookie session without X-CSRF-Token on every state-changing user/admin route", async () => {
    for (const route of server.app.routes.filter((r) => !OPEN.has(r.access) && !SAFE.has(r.method))) {
      const res = await send(server, route, { cookie: admin.cookie });
      expect(res.status, `${route.method.toUpperCase()} ${route.path}`).to.equal(403);
      expect(((await res.json()) as { error: string }).error).to.equal("Invalid CSRF token");
    }
  });

  it("answers 403 to a read token on every admin route, and to an upload token on every user/admin route", async () => {
    for (const route of server.app.routes.filter((r) => !OPEN.has(r.access))) {
      const label = `${route.method.toUpperCase()} ${route.path}`;
      if (route.access === "admin") {
        const res = await send(server, route, { authorization: `Bearer ${readToken}` });
        expect(res.status, `read token on ${label}`).to.equal(403);
      }
      const up = await send(server, route, { authorization: `Bearer ${uploadToken}` });
      expect(up.status, `upload token on ${label}`).to.equal(403);
    }
  });

  it("lets a read token call the safe user routes without CSRF", async () => {
    const res = await server.request("/api/auth/me", { headers: { authorization: `Bearer ${readToken}` } });
    expect(res.status).to.equal(200);
  });
});
