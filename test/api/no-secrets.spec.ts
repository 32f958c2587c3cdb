import { createHash } from "node:crypto";
import { expect } from "chai";
import { login } from "../support/auth";
import { loadFixture, startTestServer, type TestServer } from "../support/server";

/**
 * Sets known secrets (passwords, API tokens, the upload token, session ids), then calls every GET route as an
 * admin — and the external ones anonymously — and asserts that no response carries any of them, nor a password
 * hash or token digest.
 */
describe("no endpoint returns a stored secret", function () {
  const UPLOAD_TOKEN = "upload-secret-7f3a9c";
  const USER_PASSWORD = "Viewer-Secret-Passw0rd";
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ UPLOAD_TOKEN, LOGIN_RATE_LIMIT: "1000" });
  });
  after(() => server.close());

  it("scans every GET response", async () => {
    const admin = await login(server);
    const secrets: string[] = [UPLOAD_TOKEN, USER_PASSWORD, "Test-Admin-Passw0rd", "$argon2"];
    const created = await admin.json("POST", "/api/users", {
      username: "viewer",
      password: USER_PASSWORD,
      isAdmin: false,
      requirePasswordChange: false,
    });
    expect(created.status).to.equal(201);
    for (const scope of ["read", "admin", "upload"]) {
      const res = await admin.json("POST", "/api/tokens", { name: `scan-${scope}`, scope });
      expect(res.status).to.equal(201);
      const { token } = (await res.json()) as { token: string };
      secrets.push(token, createHash("sha256").update(token).digest("hex"));
    }
    const viewer = await login(server, "viewer", USER_PASSWORD);
    secrets.push(admin.cookie.split("=")[1] ?? "", viewer.cookie.split("=")[1] ?? "");
    const up = await server.postJson(
      `/api/upload?token=${UPLOAD_TOKEN}`,
      loadFixture("02-success-loglines-retention.json"),
    );
    expect(up.status).to.equal(200);

    const serverId = "3f9c2a7be1d84c0f9a5e6b7c8d9e0f12";
    // The database download is, by design, the whole database (hashes and encrypted secrets included); it is
    // admin-only and audited.
    const gets = server.app.routes.filter((r) => r.method === "get" && r.path !== "/api/database/backup");
    expect(gets.length).to.be.greaterThan(10);
    for (const route of gets) {
      const path = route.path.replace(/:serverId|:id/g, serverId).replace(/:([A-Za-z0-9_]+)/g, "x");
      for (const res of [await admin.request(path), await server.request(path)]) {
        const text = await res.text();
        for (const secret of secrets) {
          expect(text.includes(secret), `GET ${path} (${res.status}) leaks a secret`).to.equal(false);
        }
      }
    }
  });
});
