import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { type ErrorBody, readJson } from "../support/api";
import { type BrowserSession, TEST_ADMIN_PASSWORD, login } from "../support/auth";
import { type ChildServer, freePort, spawnServer } from "../support/child-server";
import { type TestServer, startTestServer, tempDataDir } from "../support/server";

/**
 * GET /api/application-logs and /export (reference §2.7) over the optional log file (LOG_FILE). The server with a
 * log file runs as a child process, so its log lines (LOG_LEVEL=info) stay out of the test output.
 */

interface LogsBody {
  logs: string;
  fileSize: number;
  lastModified: string;
  lineCount: number;
  currentFile: string;
  availableFiles: string[];
  message?: string;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The log of an earlier run: pino JSON lines of each level, and a line in the original's text format. */
const PREVIOUS_RUN = [
  JSON.stringify({ level: 20, time: "2025-06-01T10:00:00.000Z", msg: "debug detail" }),
  JSON.stringify({ level: 30, time: "2025-06-01T10:00:01.000Z", msg: "request", url: "/api/summary" }),
  JSON.stringify({ level: 40, time: "2025-06-01T10:00:02.000Z", msg: "collecting from Duplicati failed" }),
  JSON.stringify({ level: 50, time: "2025-06-01T10:00:03.000Z", msg: "request failed", path: "/api/dashboard" }),
  JSON.stringify({ level: 60, time: "2025-06-01T10:00:04.000Z", msg: "fatal thing" }),
  "[ERROR] a line in the original's format",
  "",
].join("\n");

/** TestServer-like access to a child server, for the login helper. */
const asTestServer = (child: ChildServer) =>
  ({ request: (p: string, init?: RequestInit) => fetch(`${child.url}${p}`, init) }) as unknown as TestServer;

describe("/api/application-logs with LOG_FILE", function () {
  this.timeout(60_000);
  let dataDir: string;
  let child: ChildServer;
  let admin: BrowserSession;

  before(async () => {
    dataDir = tempDataDir();
    const logs = path.join(dataDir, "logs");
    fs.mkdirSync(logs, { recursive: true });
    fs.writeFileSync(path.join(logs, "application.log"), PREVIOUS_RUN);
    fs.writeFileSync(path.join(logs, "application.log.1"), "OLDER RUN\n");
    child = await spawnServer(dataDir, await freePort(), {
      LOG_FILE: "logs/application.log",
      LOG_LEVEL: "info",
      ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    });
    admin = await login(asTestServer(child));
  });
  after(async () => {
    await child?.stop("SIGTERM");
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const get = async (query: string, session: BrowserSession = admin) =>
    readJson<LogsBody & ErrorBody>(await session.request(`/api/application-logs${query}`), `GET ${query}`);

  it("rotates the previous files at start and lists them", async () => {
    const r = await get("");
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.include({ logs: "", fileSize: 0, lineCount: 0, currentFile: "" });
    expect(r.body.availableFiles).to.deep.equal(["application.log", "application.log.1", "application.log.2"]);
    expect(fs.readFileSync(path.join(dataDir, "logs", "application.log.2"), "utf8")).to.equal("OLDER RUN\n");
  });

  it("reads the current file: this run's JSON log lines, also written to stdout", async () => {
    const r = await get("?file=application.log");
    expect(r.status, r.text).to.equal(200);
    expect(r.body.currentFile).to.equal("application.log");
    expect(r.body.lastModified).to.match(ISO);
    expect(r.body.fileSize).to.be.greaterThan(0);
    const lines = r.body.logs.split("\n").filter(Boolean);
    expect(lines.length).to.be.greaterThan(1);
    expect(r.body.lineCount).to.equal(r.body.logs.split("\n").length);
    const parsed = lines.map((l) => JSON.parse(l) as { msg: string; level: number });
    expect(parsed.some((l) => l.msg === "duplistatus listening")).to.equal(true);
    expect(parsed.some((l) => l.msg === "request")).to.equal(true);
    expect(r.body.logs).to.not.include(TEST_ADMIN_PASSWORD);
    expect(child.output()).to.include("duplistatus listening");
  });

  it("tails the last N lines (a final newline counts as an empty last line, as the original)", async () => {
    const previous = await get("?file=application.log.1&tail=3");
    expect(previous.body.logs).to.equal(
      [
        JSON.stringify({ level: 60, time: "2025-06-01T10:00:04.000Z", msg: "fatal thing" }),
        "[ERROR] a line in the original's format",
        "",
      ].join("\n"),
    );
    expect(previous.body.lineCount).to.equal(7);
    const one = await get("?file=application.log.1&tail=1");
    expect(one.body.logs).to.equal("");
    const all = await get("?file=application.log.2&tail=10000");
    expect(all.body).to.deep.include({
      logs: "OLDER RUN\n",
      fileSize: 10,
      lineCount: 2,
      currentFile: "application.log.2",
    });
  });

  it("validates the file name and tail like the original", async () => {
    const cases: Array<[string, number, string]> = [
      ["?file=../../etc/passwd", 400, "Invalid file parameter format"],
      ["?file=backups.db", 400, "Invalid file parameter format"],
      ["?file=application.log.x", 400, "Invalid file parameter format"],
      ["?file=application.log.11", 400, "Invalid rotated file number"],
      ["?file=application.log.0", 400, "Invalid rotated file number"],
      ["?file=application.log.5", 404, "Log file not found"],
      ["?file=application.log&tail=0", 400, "Invalid tail parameter"],
      ["?file=application.log&tail=10001", 400, "Invalid tail parameter"],
      ["?file=application.log&tail=many", 400, "Invalid tail parameter"],
    ];
    for (const [query, status, error] of cases) {
      const r = await get(query);
      expect(r.status, query).to.equal(status);
      expect(r.body.error, query).to.equal(error);
    }
  });

  it("exports a file filtered by level and text as a text/plain attachment", async () => {
    const res = await admin.request("/api/application-logs/export?file=application.log.1&logLevels=WARN,ERROR");
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.match(/^text\/plain/);
    expect(res.headers.get("content-disposition")).to.match(
      /^attachment; filename="duplistatus-logs-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.txt"$/,
    );
    const lines = (await res.text()).split("\n");
    expect(lines.map((l) => (l.startsWith("{") ? (JSON.parse(l) as { msg: string }).msg : l))).to.deep.equal([
      "collecting from Duplicati failed",
      "request failed",
      "fatal thing",
      "[ERROR] a line in the original's format",
    ]);

    const defaults = await (await admin.request("/api/application-logs/export?file=application.log.1")).text();
    expect(defaults).to.not.include("debug detail");
    expect(defaults).to.include('"msg":"request"');
    const debug = await (
      await admin.request("/api/application-logs/export?file=application.log.1&logLevels=DEBUG")
    ).text();
    expect(debug.split("\n")).to.have.length(1);
    expect(debug).to.include("debug detail");
    const search = await (
      await admin.request(
        "/api/application-logs/export?file=application.log.1&logLevels=INFO,WARN,ERROR&search=DASHBOARD",
      )
    ).text();
    expect(search.split("\n")).to.have.length(1);
    expect(search).to.include("/api/dashboard");
  });

  it("export needs a valid file", async () => {
    for (const [query, status, error] of [
      ["", 400, "File parameter is required"],
      ["?file=../x", 400, "Invalid file parameter format"],
      ["?file=application.log.9", 404, "Log file not found"],
    ] as const) {
      const r = await readJson<ErrorBody>(
        await admin.request(`/api/application-logs/export${query}`),
        `export ${query}`,
      );
      expect(r.status, query).to.equal(status);
      expect(r.body.error).to.equal(error);
    }
  });

  it("is for administrators only", async () => {
    expect((await fetch(`${child.url}/api/application-logs`)).status).to.equal(401);
    await admin.json("POST", "/api/users", {
      username: "viewer",
      password: "Viewer-Passw0rd",
      isAdmin: false,
      requirePasswordChange: false,
    });
    const viewer = await login(asTestServer(child), "viewer", "Viewer-Passw0rd");
    expect((await get("?file=application.log", viewer)).status).to.equal(403);
  });
});

describe("/api/application-logs without LOG_FILE", () => {
  let server: TestServer;
  let admin: BrowserSession;
  before(async () => {
    server = await startTestServer();
    admin = await login(server);
  });
  after(() => server?.close());

  it("lists no files and says how to turn the log file on", async () => {
    const r = await readJson<LogsBody>(await admin.request("/api/application-logs"), "GET");
    expect(r.status).to.equal(200);
    expect(r.body.availableFiles).to.deep.equal([]);
    expect(r.body.message).to.include("LOG_FILE");
    const file = await readJson<ErrorBody>(await admin.request("/api/application-logs?file=application.log"), "GET");
    expect(file.status).to.equal(404);
    expect(file.body.message).to.include("LOG_FILE");
    expect(fs.existsSync(path.join(server.dataDir, "logs"))).to.equal(false);
  });
});
