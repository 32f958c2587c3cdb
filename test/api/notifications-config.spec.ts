import { expect } from "chai";
import { makeReport, uploadOk } from "../support/api";
import { login, type BrowserSession } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";
import { type NtfyReceiver, auditRows, expectStatus, startNtfyReceiver } from "./notifications-support";

/**
 * The notification settings endpoints (reference §2.5): ntfy, frequency, SMTP, templates. Secrets are write-only:
 * no answer carries them, and they are stored encrypted.
 */

const NTFY_TOKEN = "tk_config-Token-9931";
const SMTP_PASSWORD = "Smtp-Passw0rd-5521";
const SMTP_USER = "mailer-user-7734";
/** A run start `minutes` ago: recent enough that no job is overdue (the default interval is a day). */
const ago = (minutes: number): string => new Date(Date.now() - minutes * 60_000).toISOString();

async function configValue(server: TestServer, key: string): Promise<string | null> {
  const row = await server.app.db.read((q) =>
    q.get<{ value: string }>(`SELECT value FROM configurations WHERE key = ?`, [key]),
  );
  return row?.value ?? null;
}

describe("notifications: configuration endpoints", function () {
  let server: TestServer;
  let admin: BrowserSession;
  let viewer: BrowserSession;
  let receiver: NtfyReceiver;
  const seen: string[] = [];

  /** Every answer read here is kept, and scanned for secrets at the end. */
  const call = async (who: BrowserSession, method: string, path: string, body?: unknown, status = 200) => {
    const res = await who.json(method, path, body);
    const text = await res.text();
    seen.push(`${method} ${path}: ${text}`);
    expect(res.status, `${method} ${path}: ${text}`).to.equal(status);
    expect(res.headers.get("content-type") ?? "").to.match(/^application\/json/);
    const json = JSON.parse(text) as Record<string, unknown>;
    if (status >= 400) expect(json.error, "error text").to.be.a("string").and.not.equal("");
    return json;
  };

  before(async () => {
    server = await startTestServer({ LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
    await expectStatus(
      await admin.json("POST", "/api/users", {
        username: "viewer",
        password: "Viewer-Passw0rd",
        isAdmin: false,
        requirePasswordChange: false,
      }),
      201,
    );
    viewer = await login(server, "viewer", "Viewer-Passw0rd");
    receiver = await startNtfyReceiver();
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
  });

  describe("ntfy", () => {
    it("shows defaults with a generated topic (kept), and sends nothing before an admin saves settings", async () => {
      expect((await server.request("/api/configuration/ntfy")).status, "anonymous").to.equal(401);
      const first = (await call(viewer, "GET", "/api/configuration/ntfy")).ntfy as Record<string, unknown>;
      expect(first.url).to.equal("https://ntfy.sh/");
      expect(first.topic).to.match(/^duplistatus-[A-Za-z0-9]{12}$/);
      expect(first.hasAccessToken).to.equal(false);
      expect(Object.keys(first).sort()).to.deep.equal(["hasAccessToken", "topic", "url"]);
      const again = (await call(admin, "GET", "/api/configuration/ntfy")).ntfy as Record<string, unknown>;
      expect(again.topic).to.equal(first.topic);

      await uploadOk(server, makeReport({ machineId: "c-unset", begin: ago(30), status: "Error" }));
      await server.app.events.idle();
      expect(await auditRows(admin, "notification_sent")).to.deep.equal([]);
      expect(await auditRows(admin, "notification_failed")).to.deep.equal([]);
    });

    it('saves url, topic and token (PUT and POST); the token is kept when omitted, removed with "", stored encrypted', async () => {
      const saved = await call(admin, "PUT", "/api/configuration/ntfy", {
        ntfy: { url: receiver.url, topic: "", accessToken: NTFY_TOKEN },
      });
      expect(saved.message).to.equal("NTFY config updated successfully");
      const ntfy = saved.ntfy as Record<string, unknown>;
      expect(ntfy).to.include({ url: receiver.url, hasAccessToken: true });
      expect(ntfy.topic, "empty topic → generated").to.match(/^duplistatus-[A-Za-z0-9]{12}$/);

      const raw = (await configValue(server, "ntfy_config")) ?? "";
      expect(raw).not.to.include(NTFY_TOKEN);
      expect(JSON.parse(raw).accessToken).to.match(/^enc:v1:/);

      await call(admin, "POST", "/api/configuration/ntfy", { ntfy: { url: receiver.url, topic: "dup-cfg" } });
      expect(await call(viewer, "GET", "/api/configuration/ntfy")).to.deep.equal({
        ntfy: { url: receiver.url, topic: "dup-cfg", hasAccessToken: true },
      });

      // The kept token is the one sent.
      await uploadOk(server, makeReport({ machineId: "c-tok", begin: ago(30), status: "Error" }));
      await server.app.events.idle();
      expect(receiver.requests.map((r) => [r.path, r.headers.authorization])).to.deep.equal([
        ["/dup-cfg", `Bearer ${NTFY_TOKEN}`],
      ]);

      await call(admin, "POST", "/api/configuration/notifications", {
        ntfy: { url: receiver.url, topic: "dup-cfg", accessToken: "" },
      });
      expect(
        ((await call(admin, "GET", "/api/configuration/ntfy")).ntfy as Record<string, unknown>).hasAccessToken,
      ).to.equal(false);
      await call(admin, "PUT", "/api/configuration/ntfy", {
        ntfy: { url: receiver.url, topic: "dup-cfg", accessToken: NTFY_TOKEN },
      });

      const audits = await auditRows(admin, "ntfy_config_updated");
      expect(audits).to.have.length(4);
      expect(audits.map((a) => a.details?.credential)).to.have.members(["set", "kept", "removed", "set"]);
      expect(audits.every((a) => a.category === "config" && a.username === "admin")).to.equal(true);
    });

    it("refuses invalid ntfy settings with a clear 400", async () => {
      const bad = await call(
        admin,
        "PUT",
        "/api/configuration/ntfy",
        { ntfy: { url: "ftp://example.com", topic: "x" } },
        400,
      );
      expect(bad.message).to.include("url must be an http:// or https:// URL");
      const topic = await call(
        admin,
        "POST",
        "/api/configuration/notifications",
        { ntfy: { topic: "no spaces!" } },
        400,
      );
      expect(topic).to.include({ error: "Invalid ntfy configuration" });
      expect(topic.message).to.include("topic may only contain letters, digits, - and _");
      await call(admin, "PUT", "/api/configuration/ntfy", {}, 400);
      await call(admin, "PUT", "/api/configuration/ntfy", { ntfy: { accessToken: 42 } }, 400);
    });
  });

  describe("re-notification frequency", () => {
    it("reads and sets the frequency; refuses unknown values and empty bodies as the original", async () => {
      expect(await call(viewer, "GET", "/api/configuration/notifications")).to.deep.equal({ value: "every_day" });
      expect(await call(admin, "POST", "/api/configuration/notifications", { value: "every_week" })).to.deep.equal({
        value: "every_week",
      });
      expect(await call(viewer, "GET", "/api/configuration/notifications")).to.deep.equal({ value: "every_week" });
      expect(await call(admin, "POST", "/api/configuration/notifications", { value: "hourly" }, 400)).to.include({
        error: "Invalid value",
      });
      expect(await call(admin, "POST", "/api/configuration/notifications", {}, 400)).to.include({
        error: "ntfy config is required",
      });
      await call(viewer, "POST", "/api/configuration/notifications", { value: "onetime" }, 403);
      const audits = await auditRows(admin, "notification_frequency_updated");
      expect(audits.map((a) => a.details?.value)).to.deep.equal(["every_week"]);
    });
  });

  describe("SMTP", () => {
    const valid = {
      host: "smtp.example.com",
      port: 587,
      connectionType: "starttls",
      username: SMTP_USER,
      password: SMTP_PASSWORD,
      mailto: "ops@example.com",
      senderName: "Backups",
      fromAddress: "backups@example.com",
      requireAuth: true,
    };

    it("answers configured false before anything is saved", async () => {
      expect(await call(viewer, "GET", "/api/configuration/email")).to.deep.equal({
        configured: false,
        config: null,
        message: "Email is not configured. Please configure SMTP settings.",
      });
      expect(await call(viewer, "GET", "/api/configuration/email/password")).to.deep.equal({ hasPassword: false });
    });

    it("refuses incomplete or invalid settings, naming the field", async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...valid, host: "" }, "host is required"],
        [{ ...valid, host: undefined }, "host"],
        [{ ...valid, port: 70000 }, "port must be a number from 1 to 65535"],
        [{ ...valid, port: "abc" }, "port must be a number from 1 to 65535"],
        [{ ...valid, mailto: "nobody" }, "mailto must be an e-mail address"],
        [{ ...valid, mailto: undefined }, "mailto is required"],
        [{ ...valid, username: "" }, "username is required when requireAuth is true"],
        [{ ...valid, fromAddress: "not-an-address" }, "fromAddress must be an e-mail address"],
        [
          { ...valid, fromAddress: "", requireAuth: false, username: "" },
          "fromAddress is required when the username is not an e-mail address",
        ],
        [{ ...valid, connectionType: "tls" }, 'connectionType must be "plain", "starttls" or "ssl"'],
        [{ ...valid, senderName: "a\r\nBcc: x@example.com" }, "senderName must be a single line"],
      ];
      for (const [body, text] of cases) {
        const r = await call(admin, "POST", "/api/configuration/email", body, 400);
        expect(String(r.message), JSON.stringify(body)).to.include(text);
      }
      expect((await call(viewer, "GET", "/api/configuration/email")).configured).to.equal(false);
    });

    it("saves (POST and PUT), never answers the password, stores username and password encrypted", async () => {
      expect(await call(admin, "POST", "/api/configuration/email", valid)).to.deep.equal({
        success: true,
        message: "SMTP configuration saved successfully",
      });
      expect(await call(viewer, "GET", "/api/configuration/email")).to.deep.equal({
        configured: true,
        config: {
          host: "smtp.example.com",
          port: 587,
          connectionType: "starttls",
          username: SMTP_USER,
          mailto: "ops@example.com",
          senderName: "Backups",
          fromAddress: "backups@example.com",
          requireAuth: true,
          hasPassword: true,
        },
        message: "Email is configured and ready to use.",
      });
      const raw = (await configValue(server, "smtp_config")) ?? "";
      expect(raw).not.to.include(SMTP_PASSWORD);
      expect(raw).not.to.include(SMTP_USER);
      expect(JSON.parse(raw)).to.include({ host: "smtp.example.com", mailto: "ops@example.com" });
      expect(JSON.parse(raw).password).to.match(/^enc:v1:/);

      // Omitted password: kept. Legacy `secure: true` without connectionType: ssl. Port as a string.
      const { password: _omit, connectionType: _ct, ...rest } = valid;
      await call(admin, "PUT", "/api/configuration/email", { ...rest, port: "465", secure: true });
      const cfg = (await call(admin, "GET", "/api/configuration/email")).config as Record<string, unknown>;
      expect(cfg).to.include({ connectionType: "ssl", port: 465, hasPassword: true });
      expect(await call(viewer, "GET", "/api/configuration/email/password")).to.deep.equal({ hasPassword: true });
    });

    it("sets and clears the password (PATCH and PUT)", async () => {
      expect(await call(admin, "PATCH", "/api/configuration/email/password", { password: "" })).to.deep.equal({
        message: "Email password updated successfully",
      });
      expect(await call(viewer, "GET", "/api/configuration/email/password")).to.deep.equal({ hasPassword: false });
      await call(admin, "PUT", "/api/configuration/email/password", { password: SMTP_PASSWORD });
      expect(await call(viewer, "GET", "/api/configuration/email/password")).to.deep.equal({ hasPassword: true });
      await call(admin, "PATCH", "/api/configuration/email/password", {}, 400);
    });

    it("deletes the settings (404 when there are none); the password route then needs full settings", async () => {
      expect(await call(admin, "DELETE", "/api/configuration/email")).to.deep.equal({
        success: true,
        message: "SMTP configuration deleted successfully",
      });
      expect(await call(admin, "DELETE", "/api/configuration/email", undefined, 404)).to.include({
        error: "SMTP configuration not found",
      });
      expect((await call(viewer, "GET", "/api/configuration/email")).configured).to.equal(false);

      const r = await call(admin, "PATCH", "/api/configuration/email/password", { password: SMTP_PASSWORD }, 400);
      expect(r.error).to.equal("SMTP configuration is required");
      const { password: _p, ...config } = valid;
      await call(admin, "PATCH", "/api/configuration/email/password", { password: SMTP_PASSWORD, config });
      expect(
        ((await call(viewer, "GET", "/api/configuration/email")).config as Record<string, unknown>).hasPassword,
      ).to.equal(true);
    });

    it("says masterKeyInvalid when the stored secrets cannot be decrypted", async () => {
      const saved = (await configValue(server, "smtp_config")) ?? "{}";
      const broken = { ...JSON.parse(saved), password: "enc:v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:AAAA" };
      await server.app.db.write((q) =>
        q.run(`UPDATE configurations SET value = ? WHERE key = 'smtp_config'`, [JSON.stringify(broken)]),
      );
      const r = await call(viewer, "GET", "/api/configuration/email", undefined, 400);
      expect(r).to.include({ masterKeyInvalid: true, configured: false, config: null });
      expect(r.error).to.include("cannot be decrypted");
      await server.app.db.write((q) => q.run(`UPDATE configurations SET value = ? WHERE key = 'smtp_config'`, [saved]));
    });

    it("audits every change without the secrets", async () => {
      expect((await auditRows(admin, "email_config_updated")).length).to.equal(2);
      expect((await auditRows(admin, "email_config_deleted")).length).to.equal(1);
      expect((await auditRows(admin, "email_password_updated")).length).to.equal(3);
    });
  });

  describe("templates", () => {
    it("answers the defaults of §6.3 (English) for en, en-GB and no language; 400 for an unknown one", async () => {
      const en = await call(viewer, "GET", "/api/configuration/templates/defaults?language=en");
      expect(Object.keys(en).sort()).to.deep.equal(["overdueBackup", "overdueCleared", "success", "warning"]);
      expect(en.success).to.include({
        title: "✅ {status} - {backup_name} @ {server_alias}",
        priority: "default",
        tags: "duplicati, duplistatus, success",
      });
      expect(en.warning).to.include({
        title: "⚠️ {status} - {backup_name} @ {server_alias}",
        priority: "high",
        tags: "duplicati, duplistatus, warning, error",
      });
      expect(en.overdueBackup).to.include({
        title: "🕑 Overdue - {backup_name} @ {server_alias}",
        priority: "default",
        tags: "duplicati, duplistatus, overdue",
      });
      expect(en.overdueCleared).to.include({ title: "✅ Back on schedule - {backup_name} @ {server_alias}" });
      expect((en.overdueCleared as Record<string, string>).message).to.include("{overdue_since}");
      expect(await call(viewer, "GET", "/api/configuration/templates/defaults?language=en-GB")).to.deep.equal(en);
      expect(await call(viewer, "GET", "/api/configuration/templates/defaults")).to.deep.equal(en);
      expect(
        await call(viewer, "GET", "/api/configuration/templates/defaults?language=xx-YY", undefined, 400),
      ).to.include({ error: "Invalid language" });
      expect((await server.request("/api/configuration/templates/defaults")).status, "anonymous").to.equal(401);

      const current = await call(viewer, "GET", "/api/configuration/templates");
      expect(current.templates).to.deep.equal({ language: "en-GB", ...en });
    });

    it("merges a partial update (one field of one template), POST and PUT", async () => {
      const before = (await call(viewer, "GET", "/api/configuration/templates")).templates as Record<
        string,
        Record<string, string>
      >;
      const r = await call(admin, "POST", "/api/configuration/templates", {
        templates: { success: { title: "OK {backup_name} {{backup_name}} {nope}" } },
      });
      expect(r.message).to.equal("Notification templates updated successfully");
      await call(admin, "PUT", "/api/configuration/templates", {
        templates: { language: "en", warning: { priority: "urgent", tags: "warn" } },
      });
      const after = (await call(viewer, "GET", "/api/configuration/templates")).templates as Record<
        string,
        Record<string, string>
      >;
      expect(after.language).to.equal("en");
      expect(after.success).to.deep.equal({ ...before.success, title: "OK {backup_name} {{backup_name}} {nope}" });
      expect(after.warning).to.deep.equal({ ...before.warning, priority: "urgent", tags: "warn" });
      expect(after.overdueBackup).to.deep.equal(before.overdueBackup);
      expect(after.overdueCleared).to.deep.equal(before.overdueCleared);
      expect((await auditRows(admin, "notification_template_updated")).length).to.equal(2);
    });

    it("refuses invalid templates", async () => {
      await call(admin, "POST", "/api/configuration/templates", { templates: { success: { priority: "loud" } } }, 400);
      await call(
        admin,
        "POST",
        "/api/configuration/templates",
        { templates: { success: { title: "two\nlines" } } },
        400,
      );
      await call(admin, "POST", "/api/configuration/templates", { templates: { language: "klingon" } }, 400);
      await call(admin, "POST", "/api/configuration/templates", {}, 400);
      await call(viewer, "POST", "/api/configuration/templates", { templates: {} }, 403);
    });

    it("the saved template is what the plugins send ({{x}} escapes, unknown placeholders empty)", async () => {
      receiver.requests.length = 0;
      await uploadOk(server, makeReport({ machineId: "c-tpl", begin: ago(60) }));
      await expectStatus(
        await admin.json("POST", "/api/configuration/backup-settings", {
          backupSettings: { "c-tpl:Files": { notificationEvent: "all" } },
        }),
        200,
      );
      await uploadOk(server, makeReport({ machineId: "c-tpl", begin: ago(30) }));
      await server.app.events.idle();
      const titles = receiver.requests.map((r) => r.query.get("title"));
      expect(titles).to.deep.equal(["OK Files {backup_name} "]);
    });
  });

  describe("secrets", () => {
    it("no answer above carried a secret", () => {
      expect(seen.length).to.be.above(30);
      for (const text of seen) {
        for (const secret of [NTFY_TOKEN, SMTP_PASSWORD]) expect(text.includes(secret), text).to.equal(false);
      }
    });
  });
});
