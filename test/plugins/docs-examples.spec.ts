import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { makeReport, uploadOk } from "../support/api";
import { login } from "../support/auth";
import { type TestServer, startTestServer, tempDataDir } from "../support/server";
import { eventually } from "../api/notifications-support";
import { json, plugins } from "./support";

/**
 * The plugins of docs/plugins.md, taken from the page itself (every ```js block that starts with
 * "// DATA_DIR/plugins/<file>"), are loaded by the real server and do what the page says.
 */
describe("docs/plugins.md examples", function () {
  let server: TestServer;
  let dataDir: string;
  let pluginsDir: string;

  const docs = fs.readFileSync(path.join(__dirname, "../../docs/plugins.md"), "utf8");
  const examples = [...docs.matchAll(/```js\n\/\/ DATA_DIR\/plugins\/([\w.-]+)[^\n]*\n([\s\S]*?)```/g)].map((m) => ({
    file: m[1] ?? "",
    code: m[2] ?? "",
  }));

  before(async () => {
    dataDir = tempDataDir();
    pluginsDir = path.join(dataDir, "plugins");
    fs.mkdirSync(pluginsDir);
    for (const e of examples) fs.writeFileSync(path.join(pluginsDir, e.file), e.code);
    server = await startTestServer({}, { dataDir });
  });
  after(async () => {
    await server?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("has the examples, and each one loads and runs", async () => {
    expect(examples.map((e) => e.file)).to.have.members(["jsonl-runs.mjs", "hello.cjs", "last-runs.mjs"]);
    const admin = await login(server);
    const byName = new Map((await plugins(admin)).map((p) => [p.name, p]));
    for (const name of ["jsonl-runs", "hello", "last-runs"]) {
      expect(byName.get(name), name).to.include({ state: "running", source: "user", error: null });
    }
    // The shipped example file is the one the page shows.
    const shipped = fs.readFileSync(path.join(__dirname, "../../examples/plugins/jsonl-runs.mjs"), "utf8");
    expect(shipped).to.include('name: "jsonl-runs"');

    await uploadOk(server, makeReport({ machineId: "m-docs", begin: "2025-03-01T10:00:00.000Z" }));
    const file = path.join(dataDir, "plugin-data", "jsonl-runs", "runs.jsonl");
    await eventually(async () =>
      fs.existsSync(file) && fs.readFileSync(file, "utf8").includes("m-docs") ? true : undefined,
    );

    const token = await json<{ token: string }>(
      await admin.json("POST", "/api/tokens", { name: "docs", scope: "read" }),
      201,
    );
    const latest = await json<Array<{ serverId: string }>>(
      await server.request("/api/plugins/last-runs/latest?server=m-docs", {
        headers: { authorization: `Bearer ${token.token}` },
      }),
      200,
    );
    expect(latest.map((j) => j.serverId)).to.deep.equal(["m-docs"]);
    expect((await server.request("/api/plugins/last-runs/latest")).status, "access: user").to.equal(401);
  });
});
