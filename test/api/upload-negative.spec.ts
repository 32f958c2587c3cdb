import fs from "node:fs";
import { expect } from "chai";
import {
  type DuplicatiReportJson,
  type ErrorBody,
  type ReadResponse,
  assertCleanJson,
  expectNothingWritten,
  fixture,
  getJson,
  lastBackup,
  readJson,
  snapshot,
  summary,
  upload,
  uploadOk,
} from "../support/api";
import { startTestServer, tempDataDir, type TestServer } from "../support/server";
import { withDatabase } from "../support/sqlite";

/**
 * Every way an upload can be refused (reference §2.2 error bodies, contract §2 fixes), each asserting the status, the
 * exact JSON body and that nothing was stored.
 */

const DEFAULT_LIMIT = 5 * 1024 * 1024;

describe("POST /api/upload: refused reports", () => {
  let s: TestServer;
  let seq = 0;

  before(async () => {
    s = await startTestServer();
    // Something stored already, so "totals unchanged" means something.
    await uploadOk(s, fixture("03-warning-generator-style.json"));
  });
  after(async () => {
    await s?.close();
  });

  /** Fixture 01 under a machine id and name no test has used. */
  function freshReport(): { report: DuplicatiReportJson; id: string; name: string } {
    seq++;
    const report = fixture("01-upstream-sample-success.json");
    const id = `neg-machine-${seq}`;
    const name = `Neg Machine ${seq}`;
    report.Extra["machine-id"] = id;
    report.Extra["machine-name"] = name;
    return { report, id, name };
  }

  /** Sends, checks the status, and checks that nothing was written and the named servers do not exist. */
  async function refused(
    send: () => Promise<ReadResponse<unknown>>,
    status: number,
    identifiers: string[],
  ): Promise<ErrorBody> {
    const before = await snapshot(s);
    const r = await send();
    expect(r.status, r.text).to.equal(status);
    await expectNothingWritten(s, before, identifiers);
    return r.body as ErrorBody;
  }

  describe("validation order of the original (reference §2.2)", () => {
    it('MainOperation "Restore" → 400 Only backup operations are supported', async () => {
      const { report, id, name } = freshReport();
      report.Data.MainOperation = "Restore";
      const body = await refused(() => upload(s, report), 400, [id, name]);
      expect(body).to.deep.equal({ error: "Only backup operations are supported" });
    });

    for (const variant of ["missing", "null", "an array", "a string"] as const) {
      it(`Data ${variant} → 400 Only backup operations are supported (checked first)`, async () => {
        const { report, id, name } = freshReport();
        if (variant === "missing") delete (report as Partial<DuplicatiReportJson>).Data;
        else
          (report as Record<string, unknown>).Data = variant === "null" ? null : variant === "an array" ? [] : "Backup";
        const body = await refused(() => upload(s, report), 400, [id, name]);
        expect(body).to.deep.equal({ error: "Only backup operations are supported" });
      });
    }

    it("Data without MainOperation and without Extra → the MainOperation error comes first", async () => {
      const { report, id, name } = freshReport();
      delete report.Data.MainOperation;
      delete (report as Partial<DuplicatiReportJson>).Extra;
      const body = await refused(() => upload(s, report), 400, [id, name]);
      expect(body).to.deep.equal({ error: "Only backup operations are supported" });
    });

    for (const variant of ["missing", "null", "a string"] as const) {
      it(`Extra ${variant} → 400 Missing Extra section in request data`, async () => {
        const { report, id, name } = freshReport();
        if (variant === "missing") delete (report as Partial<DuplicatiReportJson>).Extra;
        else (report as Record<string, unknown>).Extra = variant === "null" ? null : "machine";
        const body = await refused(() => upload(s, report), 400, [id, name]);
        expect(body).to.deep.equal({ error: "Missing Extra section in request data" });
      });
    }

    for (const field of ["machine-id", "machine-name", "backup-name", "backup-id"]) {
      it(`Extra["${field}"] missing → 400 with missingFields and extraSection`, async () => {
        const { report, id, name } = freshReport();
        delete report.Extra[field];
        const body = await refused(() => upload(s, report), 400, [id, name]);
        expect(body).to.deep.equal({
          error: `Missing required fields in Extra section: ${field}`,
          missingFields: [field],
          extraSection: report.Extra,
        });
      });

      it(`Extra["${field}"] empty → 400 with missingFields (falsy counts as missing)`, async () => {
        const { report, id, name } = freshReport();
        report.Extra[field] = "";
        const body = await refused(() => upload(s, report), 400, [id, name]);
        expect(body).to.deep.equal({
          error: `Missing required fields in Extra section: ${field}`,
          missingFields: [field],
          extraSection: report.Extra,
        });
      });
    }

    it("several Extra fields missing → all listed, in the original's order", async () => {
      const { report, id, name } = freshReport();
      delete report.Extra["backup-id"];
      delete report.Extra["machine-id"];
      const body = await refused(() => upload(s, report), 400, [id, name]);
      expect(body).to.deep.equal({
        error: "Missing required fields in Extra section: machine-id, backup-id",
        missingFields: ["machine-id", "backup-id"],
        extraSection: report.Extra,
      });
    });

    for (const field of ["ParsedResult", "BeginTime", "Duration"]) {
      it(`Data.${field} missing → 400 with missingFields and dataSection`, async () => {
        const { report, id, name } = freshReport();
        delete report.Data[field];
        const body = await refused(() => upload(s, report), 400, [id, name]);
        expect(body).to.deep.equal({
          error: `Missing required fields in Data section: ${field}`,
          missingFields: [field],
          dataSection: report.Data,
        });
      });
    }

    it("all three Data fields missing → all listed", async () => {
      const { report, id, name } = freshReport();
      delete report.Data.ParsedResult;
      report.Data.BeginTime = "";
      delete report.Data.Duration;
      const body = await refused(() => upload(s, report), 400, [id, name]);
      expect(body).to.deep.equal({
        error: "Missing required fields in Data section: ParsedResult, BeginTime, Duration",
        missingFields: ["ParsedResult", "BeginTime", "Duration"],
        dataSection: report.Data,
      });
    });

    it("missing Extra fields are reported before missing Data fields", async () => {
      const { report, id, name } = freshReport();
      delete report.Extra["backup-name"];
      delete report.Data.Duration;
      const body = await refused(() => upload(s, report), 400, [id, name]);
      expect(body.missingFields).to.deep.equal(["backup-name"]);
      expect(body).to.have.property("extraSection");
      expect(body).not.to.have.property("dataSection");
    });
  });

  describe("bodies that are not a report", () => {
    const INVALID_JSON = { error: "Invalid JSON", message: "The request body is not valid JSON" };
    const NOT_AN_OBJECT = { error: "Invalid request body", message: "The request body must be a JSON object" };

    it("invalid JSON (application/json) → 400 Invalid JSON", async () => {
      const { report, id, name } = freshReport();
      const text = JSON.stringify(report);
      for (const bad of [text.slice(0, text.length - 1), "{bad", "{'Data': 1}", `${text},`]) {
        const body = await refused(() => upload(s, bad), 400, [id, name]);
        expect(body).to.deep.equal(INVALID_JSON);
      }
    });

    it("invalid JSON sent as text/plain → 400 Invalid JSON", async () => {
      const { report, id, name } = freshReport();
      const text = JSON.stringify(report).slice(0, 200);
      const body = await refused(
        async () =>
          readJson(
            await s.request("/api/upload", { method: "POST", headers: { "content-type": "text/plain" }, body: text }),
          ),
        400,
        [id, name],
      );
      expect(body).to.deep.equal(INVALID_JSON);
    });

    it("invalid JSON in the form field message= → 400 Invalid JSON", async () => {
      const { report, id, name } = freshReport();
      const form = new URLSearchParams({ message: JSON.stringify(report).slice(0, 300) }).toString();
      const body = await refused(
        async () =>
          readJson(
            await s.request("/api/upload", {
              method: "POST",
              headers: { "content-type": "application/x-www-form-urlencoded" },
              body: form,
            }),
          ),
        400,
        [id, name],
      );
      expect(body).to.deep.equal(INVALID_JSON);
    });

    for (const [label, text] of [
      ["an array", "[]"],
      ["an array holding a report", JSON.stringify([fixture("01-upstream-sample-success.json")])],
      ["a string", '"hello"'],
      ["a number", "123"],
      ["null", "null"],
      ["a boolean", "true"],
      ["empty", ""],
      ["a JSON string that holds a report (no second decoding)", JSON.stringify(JSON.stringify({ Data: {} }))],
    ] as const) {
      it(`JSON that is ${label} → 400 Invalid request body`, async () => {
        const body = await refused(() => upload(s, text), 400, []);
        expect(body).to.deep.equal(NOT_AN_OBJECT);
      });
    }

    it("a JSON string literal holding a whole valid report is not decoded twice", async () => {
      const { report, id, name } = freshReport();
      const body = await refused(() => upload(s, JSON.stringify(JSON.stringify(report))), 400, [id, name]);
      expect(body).to.deep.equal(NOT_AN_OBJECT);
    });

    it("a gzip-labelled body that does not decompress → 400, not 500", async () => {
      const { report, id, name } = freshReport();
      const body = await refused(() => upload(s, JSON.stringify(report), { "content-encoding": "gzip" }), 400, [
        id,
        name,
      ]);
      expect(body).to.deep.equal({
        error: "Invalid compressed body",
        message: "The request body could not be decompressed",
      });
    });
  });

  describe("wrong types → 400 with invalidFields naming the field", () => {
    const cases: Array<[string, (r: DuplicatiReportJson) => void, string]> = [
      [
        "string where a count belongs (Data.ExaminedFiles)",
        (r) => (r.Data.ExaminedFiles = "123"),
        "Data.ExaminedFiles",
      ],
      ["string where a size belongs", (r) => (r.Data.SizeOfExaminedFiles = "11086692615"), "Data.SizeOfExaminedFiles"],
      [
        "string in BackendStatistics",
        (r) => (r.Data.BackendStatistics.BytesUploaded = "8290314"),
        "Data.BackendStatistics.BytesUploaded",
      ],
      ["a number too large for a double (1e999)", () => undefined, "Data.ExaminedFiles"],
      ["boolean where a string belongs (Data.ParsedResult)", (r) => (r.Data.ParsedResult = true), "Data.ParsedResult"],
      [
        "boolean where a string belongs (Extra machine-name)",
        (r) => (r.Extra["machine-name"] = true),
        "Extra.machine-name",
      ],
      ["number where a string belongs (Data.Version)", (r) => (r.Data.Version = 2), "Data.Version"],
      [
        "string where a boolean belongs (Data.PartialBackup)",
        (r) => (r.Data.PartialBackup = "false"),
        "Data.PartialBackup",
      ],
      ["number where the BeginTime string belongs", (r) => (r.Data.BeginTime = 1745279146971), "Data.BeginTime"],
      ["boolean as Duration", (r) => (r.Data.Duration = true), "Data.Duration"],
      ["LogLines that is not an array", (r) => (r.LogLines = "a line"), "LogLines"],
      [
        "BackendStatistics that is not an object",
        (r) => (r.Data.BackendStatistics = "n/a" as never),
        "Data.BackendStatistics",
      ],
    ];
    for (const [label, mutate, field] of cases) {
      it(label, async () => {
        const { report, id, name } = freshReport();
        mutate(report);
        let text = JSON.stringify(report);
        if (label.includes("1e999")) {
          // Not expressible through JSON.stringify: JSON.parse reads it as Infinity.
          text = text.replace('"ExaminedFiles":15399', '"ExaminedFiles":1e999');
          expect(text).to.include("1e999");
        }
        const body = await refused(() => upload(s, text), 400, [id, name]);
        expect(body).to.have.all.keys("error", "message", "invalidFields");
        expect(body.error).to.equal("Invalid backup report");
        expect(body.invalidFields?.map((f) => f.field)).to.deep.equal([field]);
        expect(body.invalidFields?.[0]?.message).to.be.a("string").and.not.equal("");
        expect(body.message).to.include(field);
      });
    }
  });

  describe("dates and durations", () => {
    const cases: Array<[string, (r: DuplicatiReportJson) => void, string]> = [
      ["unparsable BeginTime", (r) => (r.Data.BeginTime = "not a date"), "Data.BeginTime"],
      ["BeginTime on 30 February", (r) => (r.Data.BeginTime = "2025-02-30T10:00:00Z"), "Data.BeginTime"],
      ["BeginTime with hour 25", (r) => (r.Data.BeginTime = "2025-04-21T25:45:46Z"), "Data.BeginTime"],
      ["unparsable EndTime (a 400, not a 500)", (r) => (r.Data.EndTime = "yesterday"), "Data.EndTime"],
      ["EndTime that is not a date-time", (r) => (r.Data.EndTime = "21/04/2025 23:46"), "Data.EndTime"],
      [
        "unparsable BackendStatistics.LastBackupDate",
        (r) => (r.Data.BackendStatistics.LastBackupDate = "garbage"),
        "Data.BackendStatistics.LastBackupDate",
      ],
      ["Duration that is not a TimeSpan", (r) => (r.Data.Duration = "abc"), "Data.Duration"],
      ["negative Duration", (r) => (r.Data.Duration = "-00:00:05"), "Data.Duration"],
      ["Duration as a bare numeric string", (r) => (r.Data.Duration = "432"), "Data.Duration"],
      ["Duration with 60 minutes", (r) => (r.Data.Duration = "00:60:00"), "Data.Duration"],
      [
        "no EndTime and a Duration so long that BeginTime + Duration is no date (a 400, not a 500)",
        (r) => {
          delete r.Data.EndTime;
          r.Data.Duration = 1e300;
        },
        "Data.Duration",
      ],
    ];
    for (const [label, mutate, field] of cases) {
      it(`${label} → 400 with invalidFields`, async () => {
        const { report, id, name } = freshReport();
        mutate(report);
        const body = await refused(() => upload(s, report), 400, [id, name]);
        expect(body.error).to.equal("Invalid backup report");
        expect(body.invalidFields?.map((f) => f.field)).to.deep.equal([field]);
      });
    }

    it("both dates unparsable → both named", async () => {
      const { report, id, name } = freshReport();
      report.Data.BeginTime = "x";
      report.Data.EndTime = "y";
      const body = await refused(() => upload(s, report), 400, [id, name]);
      expect(body.invalidFields?.map((f) => f.field)).to.deep.equal(["Data.BeginTime", "Data.EndTime"]);
    });
  });

  describe("body size limit (default 5 MiB)", () => {
    function padded(size: number): { text: string; id: string; name: string } {
      const { report, id, name } = freshReport();
      const base = JSON.stringify({ ...report, Padding: "" }).length;
      const text = JSON.stringify({ ...report, Padding: "x".repeat(size - base) });
      expect(text.length).to.equal(size);
      return { text, id, name };
    }
    const TOO_LARGE = { error: "Request body too large", message: `The limit is ${DEFAULT_LIMIT} bytes` };

    it("a JSON body one byte over the limit → 413", async () => {
      const { text, id, name } = padded(DEFAULT_LIMIT + 1);
      const body = await refused(() => upload(s, text), 413, [id, name]);
      expect(body).to.deep.equal(TOO_LARGE);
    });

    it("a chunked body (no content-length) over the limit → 413", async () => {
      const { text, id, name } = padded(DEFAULT_LIMIT + 64 * 1024);
      const bytes = new TextEncoder().encode(text);
      const body = await refused(
        async () => {
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < bytes.length; i += 65536) controller.enqueue(bytes.slice(i, i + 65536));
              controller.close();
            },
          });
          const init = {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: stream,
            duplex: "half",
          } as RequestInit;
          return readJson(await s.request("/api/upload", init));
        },
        413,
        [id, name],
      );
      expect(body).to.deep.equal(TOO_LARGE);
    });

    it("text/plain and form bodies over the limit → 413", async () => {
      const { text, id, name } = padded(DEFAULT_LIMIT + 10);
      for (const [type, payload] of [
        ["text/plain", text],
        ["application/x-www-form-urlencoded", new URLSearchParams({ message: text }).toString()],
      ] as const) {
        const body = await refused(
          async () =>
            readJson(
              await s.request("/api/upload", { method: "POST", headers: { "content-type": type }, body: payload }),
            ),
          413,
          [id, name],
        );
        expect(body).to.deep.equal(TOO_LARGE);
      }
    });

    it("a body just under the limit is accepted", async () => {
      const { text, id } = padded(DEFAULT_LIMIT - 16);
      const r = await upload(s, text);
      expect(r.status, r.text).to.equal(200);
      expect((await lastBackup(s, id)).status).to.equal(200);
    });
  });

  describe("routes and methods", () => {
    it("an unknown route → 404 JSON", async () => {
      for (const [method, path] of [
        ["GET", "/api/does-not-exist"],
        ["POST", "/api/uploads"],
        ["GET", "/"],
        ["GET", "/api/lastbackup"],
      ] as const) {
        const r = await getJson<ErrorBody>(s, path, { method });
        expect(r.status, `${method} ${path}`).to.equal(404);
        expect(r.body).to.deep.equal({ error: "Not found", message: `No route for ${method} ${path}` });
      }
    });

    it("a wrong method on a known path → 405 JSON with Allow", async () => {
      for (const [method, path, allow] of [
        ["GET", "/api/upload", "POST"],
        ["PUT", "/api/upload", "POST"],
        ["DELETE", "/api/summary", "GET"],
        ["POST", "/api/lastbackup/some-server", "GET"],
        ["PATCH", "/api/health", "GET"],
      ] as const) {
        const r = await getJson<ErrorBody>(s, path, { method });
        expect(r.status, `${method} ${path}`).to.equal(405);
        expect(r.body).to.deep.equal({ error: "Method not allowed", message: `${method} is not supported on ${path}` });
        const allowed = (r.headers.get("allow") ?? "").split(/,\s*/);
        expect(allowed, `Allow of ${path}`).to.include(allow);
        expect(allowed).not.to.include(method);
      }
    });
  });

  describe("no response carries a stack trace or an HTML page", () => {
    it("across malformed and hostile requests", async () => {
      const report = JSON.stringify(fixture("01-upstream-sample-success.json"));
      const requests: Array<[string, RequestInit]> = [
        ["/api/upload", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }],
        ["/api/upload", { method: "POST", headers: { "content-type": "application/json" }, body: "[[[[[[[[[[" }],
        ["/api/upload", { method: "POST", headers: { "content-type": "application/json; charset=bogus" }, body: "{}" }],
        [
          "/api/upload",
          { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: report },
        ],
        [
          "/api/upload",
          {
            method: "POST",
            headers: { "content-type": "application/json", "content-encoding": "snappy" },
            body: report,
          },
        ],
        ["/api/upload", { method: "POST", headers: { "content-type": "application/xml" }, body: "<Data/>" }],
        [
          "/api/upload",
          { method: "POST", headers: { "content-type": "multipart/form-data; boundary=x" }, body: "--x--" },
        ],
        [
          "/api/upload",
          { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "message=%ZZ" },
        ],
        ["/api/upload", { method: "OPTIONS" }],
        ["/api/lastbackup/%E0%A4%A", {}],
        ["/api/lastbackup/%00", {}],
        [`/api/lastbackups/${"a".repeat(4000)}`, {}],
        ["/api/summary?x=1&x=2&x[]=3", {}],
        ["/api/../etc/passwd", {}],
        ["/index.html", {}],
        ["/api/openapi.json/extra", {}],
      ];
      for (const [path, init] of requests) {
        const res = await s.request(path, init);
        const text = await res.text();
        const what = `${init.method ?? "GET"} ${path.slice(0, 60)}`;
        expect(res.status, `${what}: ${text}`).to.be.below(500);
        assertCleanJson(res.status, res.headers.get("content-type"), text, what);
      }
      // And none of that stored anything.
      expect((await summary(s)).totalBackupsRuns).to.be.at.least(1);
    });
  });
});

describe("POST /api/upload: accepted edge cases", () => {
  it("Duration with a day part, and a missing EndTime derived from BeginTime + Duration", async () => {
    const dataDir = tempDataDir();
    try {
      const s = await startTestServer({}, { dataDir });
      let closed = false;
      try {
        const days = fixture("01-upstream-sample-success.json");
        days.Extra["machine-id"] = "edge-days";
        days.Data.BeginTime = "2025-01-01T00:00:00Z";
        days.Data.EndTime = "2025-01-02T02:03:04.5Z";
        days.Data.Duration = "1.02:03:04.5000000";

        const noEnd = fixture("01-upstream-sample-success.json");
        noEnd.Extra["machine-id"] = "edge-no-end";
        noEnd.Data.BeginTime = "2025-01-01T00:00:00Z";
        noEnd.Data.Duration = "01:00:00";
        delete noEnd.Data.EndTime;

        const nullEnd = fixture("01-upstream-sample-success.json");
        nullEnd.Extra["machine-id"] = "edge-null-end";
        nullEnd.Data.BeginTime = "2025-01-01T00:00:00Z";
        nullEnd.Data.Duration = "1.02:03:04.5000000";
        nullEnd.Data.EndTime = null;

        for (const r of [days, noEnd, nullEnd]) await uploadOk(s, r);

        const d = await lastBackup(s, "edge-days");
        expect(d.body.latest_backup?.duration_seconds).to.equal(93784.5);
        expect(d.body.latest_backup?.duration).to.equal("26:03:04");
        expect(d.body.latest_backup?.date).to.equal("2025-01-01T00:00:00.000Z");

        const n = await lastBackup(s, "edge-no-end");
        expect(n.status).to.equal(200);
        expect(n.body.latest_backup?.duration_seconds).to.equal(3600);
        expect(n.body.latest_backup?.date).to.equal("2025-01-01T00:00:00.000Z");

        const z = await lastBackup(s, "edge-null-end");
        expect(z.body.latest_backup?.duration_seconds).to.equal(93784.5);
        expect((await summary(s)).totalBackupsRuns).to.equal(3);

        await s.close();
        closed = true;
        // end_time is not exposed by the API: read the stored column.
        const ends = withDatabase(dataDir, (db) =>
          Object.fromEntries(
            (
              db.prepare(`SELECT server_id, begin_time, end_time FROM backups`).all() as Array<Record<string, string>>
            ).map((row) => [row.server_id, [row.begin_time, row.end_time]]),
          ),
        );
        expect(ends).to.deep.equal({
          "edge-days": ["2025-01-01T00:00:00.000Z", "2025-01-02T02:03:04.500Z"],
          "edge-no-end": ["2025-01-01T00:00:00.000Z", "2025-01-01T01:00:00.000Z"],
          "edge-null-end": ["2025-01-01T00:00:00.000Z", "2025-01-02T02:03:04.500Z"],
        });
      } finally {
        if (!closed) await s.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("UPLOAD_RATE_LIMIT: beyond it → 429 with Retry-After, nothing stored", async () => {
    const s = await startTestServer({ UPLOAD_RATE_LIMIT: "3" });
    try {
      for (let i = 0; i < 3; i++) {
        const r = fixture("01-upstream-sample-success.json");
        r.Extra["machine-id"] = `rate-${i}`;
        await uploadOk(s, r);
      }
      const r = fixture("01-upstream-sample-success.json");
      r.Extra["machine-id"] = "rate-3";
      const before = await snapshot(s);
      const res = await upload(s, r);
      expect(res.status, res.text).to.equal(429);
      expect(res.body.error).to.equal("Too many requests");
      const retryAfter = Number(res.headers.get("retry-after"));
      expect(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${retryAfter}`).to.equal(true);
      await expectNothingWritten(s, before, ["rate-3"]);
      // Reads are not limited by the upload limit.
      expect((await getJson(s, "/api/summary")).status).to.equal(200);
    } finally {
      await s.close();
    }
  });

  it("a small UPLOAD_MAX_BYTES applies: 413 above it, 200 below it", async () => {
    const s = await startTestServer({ UPLOAD_MAX_BYTES: "2000" });
    try {
      const small = fixture("01-upstream-sample-success.json");
      expect(JSON.stringify(small).length).to.be.below(2000);
      const big = fixture("02-success-loglines-retention.json");
      expect(JSON.stringify(big).length).to.be.above(2000);

      const r = await upload(s, big);
      expect(r.status).to.equal(413);
      expect(r.body).to.deep.equal({ error: "Request body too large", message: "The limit is 2000 bytes" });
      expect((await summary(s)).totalBackupsRuns).to.equal(0);
      expect((await lastBackup(s, big.Extra["machine-id"] as string)).status).to.equal(404);

      await uploadOk(s, small);
      expect((await summary(s)).totalBackupsRuns).to.equal(1);
    } finally {
      await s.close();
    }
  });
});

describe("POST /api/upload with UPLOAD_TOKEN", () => {
  let s: TestServer;
  let seq = 0;
  const storedIds: string[] = [];
  before(async () => {
    s = await startTestServer({ UPLOAD_TOKEN: "s3cret" });
  });
  after(async () => {
    await s?.close();
  });

  function report(): { report: DuplicatiReportJson; id: string } {
    seq++;
    const r = fixture("01-upstream-sample-success.json");
    const id = `token-machine-${seq}`;
    r.Extra["machine-id"] = id;
    r.Extra["machine-name"] = `Token Machine ${seq}`;
    return { report: r, id };
  }

  const refusals: Array<[string, Record<string, string>, string, string]> = [
    ["no key", {}, "", "Upload token required"],
    ["a wrong ?token=", {}, "?token=nope", "Invalid upload token"],
    ["a wrong ?api_key=", {}, "?api_key=nope", "Invalid upload token"],
    ["a wrong Bearer", { authorization: "Bearer nope" }, "", "Invalid upload token"],
    ["a wrong X-Api-Key", { "x-api-key": "nope" }, "", "Invalid upload token"],
    [
      "the right key in a non-Bearer Authorization scheme",
      { authorization: "Basic s3cret" },
      "",
      "Upload token required",
    ],
  ];
  for (const [label, headers, query, error] of refusals) {
    it(`${label} → 401, nothing stored`, async () => {
      const { report: r, id } = report();
      const before = await snapshot(s);
      const res = await upload(s, r, headers, query);
      expect(res.status, res.text).to.equal(401);
      // A wrong key's wording is the access layer's ("Invalid upload token" / "Invalid API token").
      if (error === "Upload token required") expect(res.body.error).to.equal(error);
      else expect(res.body.error).to.match(/^Invalid (upload|API) token$/);
      await expectNothingWritten(s, before, [id]);
    });
  }

  const accepted: Array<[string, Record<string, string>, string]> = [
    ["?token=", {}, "?token=s3cret"],
    ["Authorization: Bearer", { authorization: "Bearer s3cret" }, ""],
    ["X-Api-Key", { "x-api-key": "s3cret" }, ""],
    ["?api_key=", {}, "?api_key=s3cret"],
  ];
  for (const [label, headers, query] of accepted) {
    it(`the key in ${label} → 200, stored`, async () => {
      const { report: r, id } = report();
      const before = await summary(s);
      const res = await upload(s, r, headers, query);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.equal({ success: true });
      expect((await summary(s)).totalBackupsRuns).to.equal(before.totalBackupsRuns + 1);
      expect((await lastBackup(s, id)).status).to.equal(200);
      storedIds.push(id);
    });
  }

  it("the key also works for the form variant (Duplicati can only set the URL)", async () => {
    const { report: r, id } = report();
    const res = await s.request("/api/upload?token=s3cret", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ message: JSON.stringify(r) }).toString(),
    });
    const read = await readJson(res);
    expect(read.status, read.text).to.equal(200);
    expect((await lastBackup(s, id)).status).to.equal(200);
  });

  it("a 401 comes before the body is looked at (an invalid body without a key is still 401)", async () => {
    const res = await upload(s, "{not json");
    expect(res.status).to.equal(401);
  });

  it("the read endpoints stay open (keys for them are off by default)", async () => {
    expect((await getJson(s, "/api/summary")).status).to.equal(200);
    expect(storedIds).to.have.length.above(0);
    for (const id of storedIds) expect((await lastBackup(s, id)).status).to.equal(200);
  });
});
