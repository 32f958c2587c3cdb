import Router from "@koa/router";
import { expect } from "chai";
import type { Duplistatus } from "../../server/src/app";
import { createHttpApp } from "../../server/src/http/app";
import { buildOpenApi } from "../../server/src/http/openapi";
import type { RouteDef } from "../../server/src/http/route";
import { getJson } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";

/**
 * GET /api/openapi.json documents every route the server registers: walked from the route declarations
 * (`app.routes`) and from the @koa/router stack itself, so a route added to the router without a declaration, or a
 * declaration left out of the document, fails here.
 */

type Operation = {
  "x-access"?: unknown;
  parameters?: Array<{ name?: string; in?: string; required?: boolean }>;
} & Record<string, unknown>;
interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
}

const ACCESS_LEVELS = ["public", "upload", "read", "user", "admin"];
const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

interface Op {
  method: string;
  path: string;
}

/** `/api/servers/:id` → `/api/servers/{id}` (written here, not imported, so the test does not share the code under test). */
const openApiPath = (koaPath: string) => koaPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
const label = (op: Op) => `${op.method.toUpperCase()} ${op.path}`;

/** Operations missing from the document, or present without x-access. */
function undocumented(doc: OpenApiDoc, ops: readonly Op[]): string[] {
  const problems: string[] = [];
  for (const op of ops) {
    const documented = doc.paths?.[openApiPath(op.path)]?.[op.method.toLowerCase()];
    if (!documented) problems.push(`${label(op)} is not documented`);
    else if (!ACCESS_LEVELS.includes(documented["x-access"] as string))
      problems.push(`${label(op)} has no valid x-access`);
  }
  return problems;
}

function documentedOperations(doc: OpenApiDoc): Array<Op & { operation: Operation }> {
  const out: Array<Op & { operation: Operation }> = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (HTTP_METHODS.includes(method)) out.push({ method, path, operation });
    }
  }
  return out;
}

/** A @koa/router instance held by the application object, if it exposes one (directly or one level down). */
function exposedRouter(app: Duplistatus): Router | undefined {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): Router | undefined => {
    if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
    seen.add(value);
    if (value instanceof Router) return value;
    if (depth === 0) return undefined;
    for (const v of Object.values(value)) {
      const found = visit(v, depth - 1);
      if (found) return found;
    }
    return undefined;
  };
  return visit(app, 2);
}

/**
 * The router the application builds. If the application object exposes it, that one; otherwise the router that
 * createHttpApp builds from the same route list with the application's own options.
 */
function routerOf(app: Duplistatus): { router: Router; source: string } {
  const exposed = exposedRouter(app);
  if (exposed) return { router: exposed, source: "exposed by the application" };
  const options = {
    ...app.config,
    routes: app.routes,
    access: { check: () => undefined },
    log: app.log,
  } as unknown as Parameters<typeof createHttpApp>[0];
  return { router: createHttpApp(options).router, source: "rebuilt with createHttpApp" };
}

function routerOperations(router: Router): Op[] {
  const ops: Op[] = [];
  for (const layer of router.stack) {
    if (typeof layer.path !== "string") {
      ops.push({ method: "ANY", path: String(layer.path) });
      continue;
    }
    // HEAD is added by @koa/router for every GET; router.use() layers have no methods.
    for (const method of layer.methods)
      if (method !== "HEAD") ops.push({ method: method.toLowerCase(), path: layer.path });
  }
  return ops;
}

describe("GET /api/openapi.json", () => {
  let s: TestServer;
  let doc: OpenApiDoc;
  before(async () => {
    s = await startTestServer();
    const r = await getJson<OpenApiDoc>(s, "/api/openapi.json");
    expect(r.status).to.equal(200);
    doc = r.body;
  });
  after(async () => {
    await s?.close();
  });

  it("is an OpenAPI 3.1 document", () => {
    expect(doc.openapi).to.match(/^3\.1\.\d+$/);
    expect(doc.info.title).to.be.a("string").and.not.equal("");
    expect(doc.info.version).to.be.a("string").and.not.equal("");
    expect(doc.paths).to.be.an("object");
    expect(Object.keys(doc.paths)).to.include.members([
      "/api/upload",
      "/api/summary",
      "/api/lastbackup/{serverId}",
      "/api/lastbackups/{serverId}",
      "/api/health",
      "/api/ping",
      "/api/openapi.json",
    ]);
  });

  it("documents every declared route (app.routes) under its path and method, with its x-access", () => {
    const routes = s.app.routes;
    expect(routes.length).to.be.above(0);
    expect(undocumented(doc, routes)).to.deep.equal([]);
    for (const r of routes) {
      const op = doc.paths[openApiPath(r.path)]?.[r.method];
      expect(op?.["x-access"], label(r)).to.equal(r.access);
    }
  });

  it("documents every route in the @koa/router stack", () => {
    const { router, source } = routerOf(s.app);
    const ops = routerOperations(router);
    expect(ops.length, `router (${source})`).to.be.at.least(s.app.routes.length);
    expect(
      ops.filter((o) => o.method === "ANY"),
      "routes with a RegExp path cannot be documented",
    ).to.deep.equal([]);
    expect(undocumented(doc, ops), `router ${source}`).to.deep.equal([]);
  });

  it("documents nothing that is not a route, and every operation has x-access and a unique operationId", () => {
    const declared = new Set(s.app.routes.map((r) => `${r.method} ${openApiPath(r.path)}`));
    const ids = new Set<string>();
    for (const { method, path, operation } of documentedOperations(doc)) {
      expect(
        declared.has(`${method} ${path}`),
        `${method.toUpperCase()} ${path} is documented but not routed`,
      ).to.equal(true);
      expect(operation["x-access"], `${method} ${path} x-access`).to.be.oneOf(ACCESS_LEVELS);
      const id = operation.operationId;
      expect(id, `${method} ${path} operationId`).to.be.a("string");
      expect(ids.has(id as string), `duplicate operationId ${String(id)}`).to.equal(false);
      ids.add(id as string);
      expect(Object.keys(operation.responses ?? {}), `${method} ${path} responses`).to.have.length.above(0);
    }
  });

  it("declares every {param} of a path as a required path parameter", () => {
    for (const { method, path, operation } of documentedOperations(doc)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const name of names) {
        const p = operation.parameters?.find((x) => x.name === name && x.in === "path");
        expect(p, `${method.toUpperCase()} ${path}: path parameter ${name}`).to.be.an("object");
        expect(p?.required).to.equal(true);
      }
    }
  });

  it("every documented operation is served by the running app (no 404 'Not found', no 405)", async () => {
    for (const { method, path } of documentedOperations(doc)) {
      const concrete = path.replace(/\{[^}]+\}/g, "openapi-probe");
      const init: RequestInit = { method: method.toUpperCase() };
      if (!["get", "head", "delete"].includes(method)) {
        init.headers = { "content-type": "application/json" };
        init.body = "{}";
      }
      const res = await s.request(concrete, init);
      const text = await res.text();
      const what = `${method.toUpperCase()} ${concrete}: ${res.status} ${text.slice(0, 120)}`;
      expect(res.status, what).not.to.equal(405);
      if (res.status === 404) expect(JSON.parse(text).error, what).not.to.equal("Not found");
    }
  });

  describe("the check itself", () => {
    it("fails when a route is missing from the document", () => {
      const routes: readonly RouteDef[] = s.app.routes;
      const upload = routes.find((r) => r.path === "/api/upload");
      expect(upload).to.be.an("object");
      const partial = buildOpenApi(
        routes.filter((r) => r !== upload),
        { version: "test" },
      ) as unknown as OpenApiDoc;
      expect(undocumented(partial, routes)).to.deep.equal(["POST /api/upload is not documented"]);
      expect(undocumented(partial, routerOperations(routerOf(s.app).router))).to.deep.equal([
        "POST /api/upload is not documented",
      ]);
    });

    it("fails when an operation lacks x-access", () => {
      const copy = JSON.parse(JSON.stringify(doc)) as OpenApiDoc;
      delete copy.paths["/api/summary"]?.get?.["x-access"];
      expect(undocumented(copy, s.app.routes)).to.deep.equal(["GET /api/summary has no valid x-access"]);
    });

    it("fails when a route registered on the router has no declaration", () => {
      const { router } = routerOf(s.app);
      const extra = new Router();
      for (const layer of router.stack) extra.register(layer.path as string, layer.methods, async () => undefined);
      extra.get("/api/undeclared/:thing", async () => undefined);
      expect(undocumented(doc, routerOperations(extra))).to.deep.equal([
        "GET /api/undeclared/:thing is not documented",
      ]);
    });
  });
});
