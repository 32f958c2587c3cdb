import { expect } from "chai";
import { ManualClock } from "../../server/src/core/clock";
import { fixture, makeReport, upload, uploadOk } from "../support/api";
import { login, type BrowserSession } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";
import { type SmtpSink, auditRows, closedPort, expectStatus, startSmtpServer } from "./notifications-support";

/**
 * The e-mail plugin end to end, against a real SMTP server started by the test (the smtp-server package): plain,
 * STARTTLS (with authentication, which that server only allows over TLS) and implicit SSL, both with the server's
 * built-in self-signed certificate, which the plugin accepts as the original does.
 */

const NOW = Date.parse("2026-01-10T12:00:00.000Z");
const PASSWORD = "S3cret-SMTP-pass!";

async function saveEmail(admin: BrowserSession, body: Record<string, unknown>): Promise<void> {
  await expectStatus(await admin.json("POST", "/api/configuration/email", body), 200);
}

async function backupSettings(admin: BrowserSession, settings: Record<string, unknown>): Promise<void> {
  await expectStatus(await admin.json("POST", "/api/configuration/backup-settings", { backupSettings: settings }), 200);
}

describe("notifications: e-mail plugin", function () {
  let clock: ManualClock;
  let server: TestServer;
  let admin: BrowserSession;
  let sinks: SmtpSink[] = [];

  const settle = async () => {
    await expectStatus(await admin.request("/api/notifications/check-overdue", { method: "POST" }), 200);
    await server.app.events.idle();
  };
  const smtp = async (options: Parameters<typeof startSmtpServer>[0] = {}) => {
    const sink = await startSmtpServer(options);
    sinks.push(sink);
    return sink;
  };

  before(async () => {
    clock = new ManualClock(NOW);
    server = await startTestServer({}, { clock });
    admin = await login(server);
  });
  after(async () => {
    await server?.close();
    for (const s of sinks) await s.close();
    sinks = [];
  });
  afterEach(() => server.app.events.idle());

  it("plain SMTP: one message to mailto and one to each additional address, exact subject, from, to and body", async () => {
    const sink = await smtp();
    await saveEmail(admin, {
      host: "127.0.0.1",
      port: sink.port,
      connectionType: "plain",
      requireAuth: false,
      mailto: "ops@example.com",
      senderName: "Backup Bot",
      fromAddress: "alerts@example.com",
    });
    await uploadOk(server, makeReport({ machineId: "e-plain", begin: "2026-01-10T10:00:00Z" }));
    await backupSettings(admin, {
      "e-plain:Files": {
        notificationEvent: "all",
        additionalNotificationEvent: "all",
        additionalEmails: "extra1@example.com, not-an-address, extra2@example.com",
      },
    });
    await settle();
    expect(sink.mails, "the first (Success) run notified nobody").to.have.length(0);

    await uploadOk(
      server,
      makeReport({
        machineId: "e-plain",
        begin: "2026-01-10T11:30:00Z",
        durationSeconds: 51,
        uploaded: 0,
        known: 1024,
        versions: 2,
      }),
    );
    await server.app.events.idle();

    expect(sink.mails.map((m) => m.envelopeTo.join(",")).sort()).to.deep.equal([
      "extra1@example.com",
      "extra2@example.com",
      "ops@example.com",
    ]);
    const body =
      "The backup Files on name-of-e-plain finished with status Success on 10/01/2026, 11:30, after 51s.\n\n" +
      "🔍 Note: \n" +
      "☁️ Uploaded: 0 Bytes\n" +
      "💾 Storage used: 1 KB\n" +
      "🔃 Versions available: 2\n";
    for (const mail of sink.mails) {
      expect(mail.secure, "plain never upgrades to TLS").to.equal(false);
      expect(mail.user).to.equal(null);
      expect(mail.envelopeFrom).to.equal("alerts@example.com");
      expect(mail.subject).to.equal("✅ Success - Files @ name-of-e-plain");
      expect(mail.from).to.equal("Backup Bot <alerts@example.com>");
      expect(mail.to).to.equal(mail.envelopeTo[0]);
      expect(mail.text).to.equal(body);
      expect(mail.html).to.include("The backup Files on name-of-e-plain finished with status Success");
      expect(mail.html).to.include("<br>");
    }
    const sent = (await auditRows(admin, "email_sent")).filter((a) => a.targetId === "e-plain:Files");
    expect(sent.map((a) => `${String(a.details?.destination)}:${String(a.details?.to)}`).sort()).to.deep.equal([
      "additional:extra1@example.com",
      "additional:extra2@example.com",
      "standard:ops@example.com",
    ]);
    for (const a of sent) expect(a).to.include({ category: "system", status: "success" });
  });

  it("escapes the HTML version: a job name cannot inject markup", async () => {
    const sink = await smtp();
    await saveEmail(admin, {
      host: "127.0.0.1",
      port: sink.port,
      connectionType: "plain",
      requireAuth: false,
      mailto: "ops@example.com",
      fromAddress: "alerts@example.com",
    });
    await uploadOk(
      server,
      makeReport({
        machineId: "e-html",
        backupName: "<b>x</b> & co",
        begin: "2026-01-10T11:00:00Z",
        status: "Warning",
      }),
    );
    await server.app.events.idle();
    expect(sink.mails).to.have.length(1);
    expect(sink.mails[0]!.subject).to.equal("⚠️ Warning - <b>x</b> & co @ name-of-e-html");
    expect(sink.mails[0]!.html).to.include("&lt;b&gt;x&lt;/b&gt; &amp; co");
    expect(sink.mails[0]!.html).not.to.include("<b>x</b>");
  });

  it("STARTTLS with authentication: the warning template, from the username, as duplistatus", async () => {
    const sink = await smtp({ auth: { user: "mailer@example.com", pass: PASSWORD } });
    await saveEmail(admin, {
      host: "127.0.0.1",
      port: sink.port,
      connectionType: "starttls",
      username: "mailer@example.com",
      password: PASSWORD,
      mailto: "ops@example.com, boss@example.com",
    });
    const report = fixture("03-warning-generator-style.json");
    report.Data.BeginTime = "2026-01-10T11:00:00.000Z";
    report.Extra["machine-id"] = "e-tls";
    await uploadOk(server, report);
    await server.app.events.idle();

    expect(sink.mails).to.have.length(1);
    const mail = sink.mails[0]!;
    expect(mail.secure, "upgraded with STARTTLS").to.equal(true);
    expect(mail.user).to.equal("mailer@example.com");
    expect(mail.envelopeTo).to.deep.equal(["ops@example.com", "boss@example.com"]);
    expect(mail.to).to.equal("ops@example.com, boss@example.com");
    expect(mail.from).to.equal("duplistatus <mailer@example.com>");
    expect(mail.subject).to.equal("⚠️ Warning - Databases @ DB-PROD-01");
    expect(mail.text).to.include("🚨 Warnings: 2\n🛑 Errors: 0\n\n📄 Log messages:\nWarning 001\nWarning 002\n");
  });

  it("implicit SSL", async () => {
    const sink = await smtp({ ssl: true, auth: { user: "mailer@example.com", pass: PASSWORD } });
    await saveEmail(admin, {
      host: "127.0.0.1",
      port: sink.port,
      connectionType: "ssl",
      username: "mailer@example.com",
      password: PASSWORD,
      mailto: "ops@example.com",
      senderName: "Duplistatus Ops",
    });
    await uploadOk(server, makeReport({ machineId: "e-ssl", begin: "2026-01-10T11:00:00Z", status: "Error" }));
    await server.app.events.idle();
    expect(sink.mails).to.have.length(1);
    expect(sink.mails[0]).to.include({
      secure: true,
      user: "mailer@example.com",
      subject: "⚠️ Error - Files @ name-of-e-ssl",
    });
    expect(sink.mails[0]!.from).to.equal("Duplistatus Ops <mailer@example.com>");
  });

  it("overdue: the standard address always, additional addresses unless their filter is off", async () => {
    const sink = await smtp();
    await saveEmail(admin, {
      host: "127.0.0.1",
      port: sink.port,
      connectionType: "plain",
      requireAuth: false,
      mailto: "ops@example.com",
      fromAddress: "alerts@example.com",
    });
    await uploadOk(server, makeReport({ machineId: "e-late", begin: "2026-01-10T11:00:00Z" }));
    await uploadOk(server, makeReport({ machineId: "e-late2", begin: "2026-01-10T11:00:00Z" }));
    await backupSettings(admin, {
      "e-late:Files": {
        expectedInterval: "1h",
        notificationEvent: "off",
        additionalNotificationEvent: "off",
        additionalEmails: "extra@example.com",
      },
      "e-late2:Files": {
        expectedInterval: "1h",
        notificationEvent: "off",
        additionalNotificationEvent: "errors",
        additionalEmails: "extra@example.com",
      },
    });
    await settle();
    clock.set(Date.parse("2026-01-10T15:00:00.000Z"));
    admin = await login(server); // CSRF tokens live 30 min of (manual) clock time
    await settle();

    const byJob = (name: string) => sink.mails.filter((m) => m.subject === `🕑 Overdue - Files @ name-of-${name}`);
    expect(byJob("e-late").map((m) => m.envelopeTo[0])).to.deep.equal(["ops@example.com"]);
    expect(
      byJob("e-late2")
        .map((m) => m.envelopeTo[0])
        .sort(),
    ).to.deep.equal(["extra@example.com", "ops@example.com"]);
    expect(byJob("e-late")[0]!.text).to.include("🚨 Last backup received: 10/01/2026, 11:00 (4 hours ago)\n");

    sink.mails.length = 0;
    await uploadOk(server, makeReport({ machineId: "e-late", begin: "2026-01-10T14:55:00Z" }));
    await server.app.events.idle();
    expect(sink.mails.map((m) => `${m.envelopeTo[0]} ${m.subject}`)).to.deep.equal([
      "ops@example.com ✅ Back on schedule - Files @ name-of-e-late",
    ]);
  });

  it("a failing SMTP server never fails the upload; each failure is audited without the password", async () => {
    const sink = await smtp({ auth: { user: "mailer@example.com", pass: "another-password" } });
    await saveEmail(admin, {
      host: "127.0.0.1",
      port: sink.port,
      connectionType: "starttls",
      username: "mailer@example.com",
      password: PASSWORD,
      mailto: "ops@example.com",
    });
    await uploadOk(server, makeReport({ machineId: "e-badauth", begin: "2026-01-10T15:00:00Z", status: "Error" }));
    await server.app.events.idle();
    expect(sink.mails).to.have.length(0);
    const row = (await auditRows(admin, "email_failed")).find((a) => a.targetId === "e-badauth:Files");
    expect(row, "audited").to.not.equal(undefined);
    expect(row!).to.include({ category: "system", status: "failure" });
    expect(row!.errorMessage).to.match(/^The SMTP server at 127\.0\.0\.1:\d+ refused the username or password/);
    expect(JSON.stringify(row)).not.to.include(PASSWORD);
  });

  it("a dead SMTP host: the upload answers 200 at once and email_failed is audited", async () => {
    const port = await closedPort();
    await saveEmail(admin, {
      host: "127.0.0.1",
      port,
      connectionType: "plain",
      requireAuth: false,
      mailto: "ops@example.com",
      fromAddress: "alerts@example.com",
    });
    const started = Date.now();
    const r = await upload(server, makeReport({ machineId: "e-dead", begin: "2026-01-10T15:00:00Z", status: "Fatal" }));
    expect(r.status).to.equal(200);
    expect(Date.now() - started, "upload answered promptly").to.be.below(1000);
    await server.app.events.idle();
    const row = (await auditRows(admin, "email_failed")).find((a) => a.targetId === "e-dead:Files");
    expect(row, "audited").to.not.equal(undefined);
    expect(row!.errorMessage).to.match(new RegExp(`^Cannot connect to the SMTP server at 127\\.0\\.0\\.1:${port}`));
    expect(row!.details).to.include({
      channel: "email",
      destination: "standard",
      to: "ops@example.com",
      template: "warning",
    });
  });
});
