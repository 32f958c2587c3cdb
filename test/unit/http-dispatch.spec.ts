import Router from "@koa/router";
import { expect } from "chai";
import { createDispatcher } from "../../server/src/http/dispatch";
import { startTestServer, type TestServer } from "../support/server";

/**
 * The dispatcher (server/src/http/dispatch.ts) must pick, for every request, the layer @koa/router would run: the
 * first layer in registration order whose regexp matches and which has the method.
 */

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const SAMPLES = ["abc", "a%20b", "B%C3%BCro%2FPC%20%231", "x.y", "UPPER", "-"];

/** Concrete request paths around a route path: filled in, with a trailing slash, in other case, cut and extended. */
function pathsAround(path: string): string[] {
  const out = new Set<string>();
  for (const sample of SAMPLES) {
    const filled = path.replace(/:[A-Za-z0-9_]+/g, sample).replace(/\*[A-Za-z0-9_]+/g, `${sample}/deeper`);
    const plain = filled.replace(/[{}]/g, "");
    const withoutOptional = filled.replace(/\{[^}]*\}/g, "");
    for (const p of [plain, withoutOptional]) {
      out.add(p);
      out.add(`${p}/`);
      out.add(`${p}//`);
      out.add(p.toUpperCase());
      out.add(`${p}/extra`);
      out.add(`${p}x`);
      out.add(p.slice(0, -1));
      out.add(p.slice(0, Math.max(1, p.lastIndexOf("/"))));
      out.add(p.replace(/^\/api/, "/API"));
    }
  }
  return [...out];
}

const JUNK = ["", "/", "//", "/api", "/api/", "/API", "/metrics", "/METRICS/", "/nope", "/api/nope/deeper", "/ápi/x"];

function expectSameAsRouter(router: Router, paths: Iterable<string>): number {
  const dispatcher = createDispatcher(router);
  expect(dispatcher, "dispatcher").to.not.equal(null);
  let compared = 0;
  for (const path of paths) {
    for (const method of METHODS) {
      const viaRouter = router.match(path, method);
      const expected = viaRouter.route ? viaRouter.pathAndMethod[0] : undefined;
      const got = dispatcher?.match(path, method);
      expect(got?.path, `${method} ${path}`).to.equal(expected?.path);
      expect(got, `${method} ${path}`).to.equal(expected);
      compared++;
    }
  }
  return compared;
}

describe("route dispatch (same choice as @koa/router)", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s?.close();
  });

  it("for every route of the application, around its path", () => {
    const paths = new Set(JUNK);
    for (const layer of s.app.router.stack) for (const p of pathsAround(String(layer.path))) paths.add(p);
    expect(expectSameAsRouter(s.app.router, paths)).to.be.greaterThan(1000);
  });

  it("with overlapping, optional, wildcard and short paths registered in any order", () => {
    const router = new Router();
    const noop = async () => undefined;
    router.get("/api/servers/:id", noop);
    router.get("/api/servers/duplicates", noop);
    router.post("/api/servers/duplicates", noop);
    router.get("/api/Mixed/Case", noop);
    router.get("/api/files/*rest", noop);
    router.get("/api/opt{/:maybe}", noop);
    router.get("/api/a:b", noop);
    router.get("/api/:anything/fixed", noop);
    router.get("/metrics", noop);
    router.get("/", noop);
    router.get("/api", noop);
    router.get("/api/", noop);
    router.delete("/api/servers/:id", noop);
    const paths = new Set(JUNK);
    for (const layer of router.stack) for (const p of pathsAround(String(layer.path))) paths.add(p);
    for (const p of ["/api/servers/duplicates", "/API/SERVERS/DUPLICATES/", "/api/aXYZ", "/api/q/fixed", "/api/opt"]) {
      paths.add(p);
    }
    expectSameAsRouter(router, paths);
  });

  it("declines what it does not reproduce (router.use middleware)", () => {
    const router = new Router();
    router.use(async (_ctx, next) => next());
    router.get("/api/x", async () => undefined);
    expect(createDispatcher(router)).to.equal(null);
  });
});
