import { expect } from "chai";
import { login, type BrowserSession } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";
import {
  type NtfyReceiver,
  type SmtpSink,
  auditRows,
  closedPort,
  startNtfyReceiver,
  startSmtpServer,
} from "./notifications-support";

/** POST /api/notifications/test (reference §2.6): simple, template and email, against real local receivers. */

const STORED_TOKEN = "tk_stored-Token-1207";

describe("POST /api/notifications/test", function () {
  let server: TestServer;
  let admin: BrowserSession;
  let receiver: NtfyReceiver;
  let sink: SmtpSink;

  const test = async (body: unknown, status: number) => {
    const res = await admin.json("POST", "/api/notifications/test", body);
    const text = await res.text();
    expect(res.status, text).to.equal(status);
    expect(text).not.to.include(STORED_TOKEN);
    return JSON.parse(text) as Record<string, unknown>;
  };

  before(async () => {
    server = await startTestServer();
    admin = await login(server);
    receiver = await startNtfyReceiver();
    sink = await startSmtpServer();
    const res = await admin.json("PUT", "/api/configuration/ntfy", {
      ntfy: { url: receiver.url, topic: "dup-stored", accessToken: STORED_TOKEN },
    });
    expect(res.status).to.equal(200);
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
    await sink?.close();
  });
  beforeEach(() => {
    receiver.requests.length = 0;
    sink.mails.length = 0;
  });

  it("refuses a missing or unknown type, and callers who are not admins", async () => {
    expect((await test({}, 400)).error).to.be.a("string");
    expect(String((await test({ type: "sms" }, 400)).message)).to.include(
      'type must be "simple", "template" or "email"',
    );
    const anonymous = await server.postJson("/api/notifications/test", { type: "simple" });
    expect(anonymous.status).to.equal(401);
  });

  describe("simple", () => {
    it("needs ntfy settings with a URL and a topic", async () => {
      expect(await test({ type: "simple" }, 400)).to.deep.equal({ error: "NTFY configuration is required" });
      expect(await test({ type: "simple", ntfyConfig: { url: receiver.url, topic: "" } }, 400)).to.deep.equal({
        error: "NTFY URL and topic are required",
      });
    });

    it("posts the test message to the given settings; without an accessToken the stored one is used", async () => {
      expect(
        await test(
          { type: "simple", ntfyConfig: { url: receiver.url, topic: "dup-given", accessToken: "given-tok" } },
          200,
        ),
      ).to.deep.equal({
        message: "Test notification sent successfully",
      });
      await test({ type: "simple", ntfyConfig: { url: receiver.url, topic: "dup-given" } }, 200);
      await test({ type: "simple", ntfyConfig: { url: receiver.url, topic: "dup-given", accessToken: "" } }, 200);
      expect(receiver.requests.map((r) => r.headers.authorization)).to.deep.equal([
        "Bearer given-tok",
        `Bearer ${STORED_TOKEN}`,
        undefined,
      ]);
      const r = receiver.requests[0]!;
      expect(r.path).to.equal("/dup-given");
      expect(r.query.get("title")).to.equal("Test Notification");
      expect(r.query.get("priority")).to.equal("default");
      expect(r.query.get("tags")).to.equal("test");
      expect(r.body).to.match(
        /^This is a test notification from duplistatus\.\n\n\(test sent at \d{4}-\d\d-\d\dT[\d:.]+Z\)$/,
      );
      const audits = await auditRows(admin, "test_notification_sent");
      expect(audits.filter((a) => a.status === "success")).to.have.length(3);
    });

    it("answers 500 with the reason when ntfy cannot be reached (one try)", async () => {
      const started = Date.now();
      const r = await test(
        { type: "simple", ntfyConfig: { url: `http://127.0.0.1:${await closedPort()}`, topic: "t" } },
        500,
      );
      expect(Date.now() - started).to.be.below(2000);
      expect(r.error).to.match(
        /^Failed to send test notification: Cannot connect to the ntfy server at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)$/,
      );
      const failed = (await auditRows(admin, "test_notification_sent")).filter((a) => a.status === "failure");
      expect(failed).to.have.length(1);
    });
  });

  describe("template", () => {
    it("needs a template", async () => {
      expect(await test({ type: "template" }, 400)).to.deep.equal({ error: "Template is required for template type" });
    });

    it("replaces the run variables by their names, keeps the others, and sends through ntfy (stored settings)", async () => {
      const r = await test(
        {
          type: "template",
          template: {
            title: "T {status} {backup_name} @ {server_alias}",
            message: "{duration} | {uploaded_size}\n{log_text}\n{last_elapsed} {{x}}",
            priority: "high",
            tags: "a, b",
          },
        },
        200,
      );
      expect(r).to.deep.equal({
        success: true,
        message: "Test notifications sent successfully via NTFY",
        channels: ["NTFY"],
      });
      expect(receiver.requests).to.have.length(1);
      const q = receiver.requests[0]!;
      expect(q.path).to.equal("/dup-stored");
      expect(q.headers.authorization).to.equal(`Bearer ${STORED_TOKEN}`);
      expect(q.query.get("title")).to.equal("T status backup_name @ server_alias");
      expect(q.query.get("priority")).to.equal("high");
      expect(q.query.get("tags")).to.equal("a,b");
      expect(q.body).to.match(
        /^duration \| uploaded_size\nlog_text line 1\nlog_text line 2\nlog_text line 3\n\{last_elapsed\} \{x\}\n\n\(test sent at [^)]+\)$/,
      );
    });

    it("also sends an e-mail when SMTP is set up", async () => {
      const save = await admin.json("POST", "/api/configuration/email", {
        host: "127.0.0.1",
        port: sink.port,
        connectionType: "plain",
        requireAuth: false,
        mailto: "ops@example.com",
        fromAddress: "alerts@example.com",
      });
      expect(save.status).to.equal(200);
      const r = await test({ type: "template", template: { title: "Hello {server_name}", message: "Body" } }, 200);
      expect(r).to.deep.equal({
        success: true,
        message: "Test notifications sent successfully via NTFY and Email",
        channels: ["NTFY", "Email"],
      });
      expect(receiver.requests).to.have.length(1);
      expect(sink.mails).to.have.length(1);
      expect(sink.mails[0]).to.include({ subject: "Hello server_name", to: "ops@example.com" });
      expect(sink.mails[0]!.text).to.match(/^Body\n\n\(test sent at [^)]+\)$/);
    });
  });

  describe("email", () => {
    it("sends the diagnostic message to toEmail, else to mailto", async () => {
      expect(await test({ type: "email", toEmail: "someone@example.com" }, 200)).to.deep.equal({
        message: "Test email sent successfully",
      });
      await test({ type: "email" }, 200);
      expect(sink.mails.map((m) => m.envelopeTo)).to.deep.equal([["someone@example.com"], ["ops@example.com"]]);
      const mail = sink.mails[0]!;
      expect(mail.subject).to.equal("duplistatus test e-mail");
      expect(mail.from).to.equal("duplistatus <alerts@example.com>");
      expect(mail.text).to.include(
        `SMTP server: 127.0.0.1:${sink.port}\nConnection type: plain\nAuthentication: no\nRecipient: someone@example.com\n`,
      );
      expect((await auditRows(admin, "test_email_sent")).map((a) => a.details?.to)).to.have.members([
        "someone@example.com",
        "ops@example.com",
      ]);
    });

    it("refuses an invalid toEmail, and answers 500 with the reason when the server cannot be reached", async () => {
      expect((await test({ type: "email", toEmail: "nobody" }, 400)).error).to.equal("Invalid toEmail");
      const port = await closedPort();
      await admin.json("POST", "/api/configuration/email", {
        host: "127.0.0.1",
        port,
        connectionType: "plain",
        requireAuth: false,
        mailto: "ops@example.com",
        fromAddress: "alerts@example.com",
      });
      const r = await test({ type: "email" }, 500);
      expect(r.error).to.match(
        new RegExp(`^Failed to send test email: Cannot connect to the SMTP server at 127\\.0\\.0\\.1:${port}`),
      );
    });

    it("needs SMTP settings", async () => {
      expect((await admin.request("/api/configuration/email", { method: "DELETE" })).status).to.equal(200);
      expect(await test({ type: "email" }, 400)).to.include({ error: "Email is not configured" });
    });
  });
});
