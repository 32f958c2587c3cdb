import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { SERVER_PASSWORD_PURPOSE, type ImportSummary } from "../../server/src/importer/import-service";
import { NotificationConfigService } from "../../server/src/notifications/notification-config";
import { login, type BrowserSession } from "../support/auth";
import { databaseEnv } from "../support/postgres";
import { startTestServer, type TestServer } from "../support/server";
import { type RawDatabase, deriveFixture, importer, originalEncrypt, tempDir } from "./support";

/**
 * The original's encrypted secrets (server passwords, SMTP username and password): with its key file they are
 * decrypted and sealed again with this installation's key; without it, everything else comes across and the secrets
 * are reported for re-entry. Values are checked through the service layer, never through an HTTP answer.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const ALPHA = "dae5a53b19091aaf445ef42d271c2552";
const BRAVO = "3667e73b0f6c4b733b4cb911a5844d2d";
const SECRETS = {
  alpha: "alpha-Duplicati-passw0rd",
  bravo: "bravo pässword with spaces",
  smtpUser: "mailer@example.com",
  smtpPassword: "smtp-S3cret!",
  ntfyToken: "tk_original_clear_token",
};
const NOTICE_SENT = "2025-03-11T00:00:00.000Z";

/** The 1.4.2 fixture with secrets encrypted under `key` and richer settings than the generator writes. */
function originalWithSecrets(key: Buffer, dir: string): string {
  return deriveFixture(
    "backups_1.4.2.db",
    (db: RawDatabase) => {
      const setPassword = db.prepare(`UPDATE servers SET server_password = ? WHERE id = ?`);
      setPassword.run(originalEncrypt(SECRETS.alpha, key), ALPHA);
      setPassword.run(originalEncrypt(SECRETS.bravo, key), BRAVO);
      db.prepare(`UPDATE servers SET server_url = ?, alias = ?, note = ? WHERE id = ?`).run(
        "http://alpha.lan:8200",
        "Alpha box",
        "Rack 2",
        ALPHA,
      );
      const setConfig = db.prepare(`INSERT OR REPLACE INTO configurations (key, value) VALUES (?, ?)`);
      setConfig.run(
        "smtp_config",
        JSON.stringify({
          host: "smtp.example.com",
          port: 465,
          connectionType: "ssl",
          username: originalEncrypt(SECRETS.smtpUser, key),
          password: originalEncrypt(SECRETS.smtpPassword, key),
          mailto: "ops@example.com",
          senderName: "Backups",
          fromAddress: "",
          requireAuth: true,
        }),
      );
      setConfig.run(
        "ntfy_config",
        JSON.stringify({ url: "https://ntfy.example.com/", topic: "original-topic", accessToken: SECRETS.ntfyToken }),
      );
      const settings = JSON.parse(
        (db.prepare(`SELECT value FROM configurations WHERE key = 'backup_settings'`).get() as { value: string }).value,
      ) as Record<string, unknown>;
      // A legacy entry (0.6/0.7 format), a current one with every field, server defaults, an unknown server.
      settings[`${ALPHA}:Documents`] = {
        notificationEvent: "errors",
        overdueBackupCheckEnabled: false,
        expectedInterval: 12,
        intervalUnit: "hour",
      };
      settings[`${ALPHA}:Databases`] = {
        notificationEvent: "all",
        overdueBackupCheckEnabled: true,
        expectedInterval: "1W",
        allowedWeekDays: [5, 1, 3],
        ntfyEnabled: false,
        emailEnabled: false,
        additionalNotificationEvent: "errors",
        additionalEmails: "a@example.com, b@example.com",
        additionalNtfyTopic: "extra-topic",
      };
      settings[`${ALPHA}:__default__`] = { additionalEmails: "team@example.com", additionalNtfyTopic: "team-topic" };
      settings["no-such-server:Job"] = { notificationEvent: "all" };
      setConfig.run("backup_settings", JSON.stringify(settings));
      setConfig.run(
        "overdue_notifications",
        JSON.stringify({ [`${BRAVO}:Documents`]: { lastNotificationSent: NOTICE_SENT, serverName: "BRAVO-02" } }),
      );
    },
    dir,
  );
}

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "server/src/cli/import-duplistatus.ts", ...args],
      { cwd: ROOT, env: { ...process.env, ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("import of the original's encrypted secrets", function () {
  this.timeout(120_000);
  let server: TestServer;
  let admin: BrowserSession;
  let dir: string;
  let key: Buffer;
  let file: string;

  beforeEach(async () => {
    server = await startTestServer();
    admin = await login(server);
    dir = tempDir();
    key = randomBytes(32);
    file = originalWithSecrets(key, dir);
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const storedPassword = (id: string) =>
    server.app.db.read(
      async (q) => (await q.get<{ p: string }>(`SELECT server_password AS p FROM servers WHERE id = ?`, [id]))?.p,
    );
  const hasPassword = async (id: string) => {
    const res = await admin.request(`/api/servers/${id}`);
    expect(res.status).to.equal(200);
    const text = await res.text();
    for (const secret of Object.values(SECRETS)) expect(text).to.not.include(secret);
    return (JSON.parse(text) as { hasPassword: boolean }).hasPassword;
  };
  const notificationConfig = () =>
    new NotificationConfigService({ db: server.app.db, secrets: server.app.context.secrets });

  it("with --key (CLI): passwords decrypted and sealed with our key; SMTP and ntfy usable; settings and overdue state", async () => {
    const keyFile = path.join(dir, ".duplistatus.key");
    fs.writeFileSync(keyFile, key, { mode: 0o600 });
    const r = await runCli([file, "--key", keyFile, "--data-dir", server.dataDir], await databaseEnv(server.dataDir));
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include("secrets:  5 imported, 0 to re-enter");
    for (const secret of Object.values(SECRETS)) expect(r.stdout + r.stderr).to.not.include(secret);

    // Server passwords: flagged over HTTP, readable only through the service layer, sealed with our key.
    expect(await hasPassword(ALPHA)).to.equal(true);
    expect(await hasPassword(BRAVO)).to.equal(true);
    const sealed = (await storedPassword(ALPHA)) as string;
    expect(sealed).to.match(/^enc:v1:/);
    expect(server.app.context.secrets.decrypt(sealed, SERVER_PASSWORD_PURPOSE)).to.equal(SECRETS.alpha);
    expect(
      server.app.context.secrets.decrypt((await storedPassword(BRAVO)) as string, SERVER_PASSWORD_PURPOSE),
    ).to.equal(SECRETS.bravo);
    const alpha = (await (await admin.request(`/api/servers/${ALPHA}`)).json()) as Record<string, unknown>;
    expect(alpha).to.include({ alias: "Alpha box", note: "Rack 2", server_url: "http://alpha.lan:8200" });

    // SMTP: what the e-mail plugin sends with; the API shows only that a password is set.
    const smtp = await notificationConfig().smtp();
    expect(smtp).to.include({
      host: "smtp.example.com",
      port: 465,
      connectionType: "ssl",
      username: SECRETS.smtpUser,
      password: SECRETS.smtpPassword,
      mailto: "ops@example.com",
      senderName: "Backups",
      requireAuth: true,
    });
    const email = await admin.request("/api/configuration/email");
    const emailText = await email.text();
    expect(emailText).to.not.include(SECRETS.smtpPassword);
    expect(emailText).to.include('"hasPassword":true');

    // ntfy: the original keeps the token in clear; here it is sealed.
    expect(await notificationConfig().ntfy()).to.deep.equal({
      url: "https://ntfy.example.com/",
      topic: "original-topic",
      accessToken: SECRETS.ntfyToken,
    });
    const ntfyRaw = await server.app.db.read((q) =>
      q.get<{ value: string }>(`SELECT value FROM configurations WHERE key = 'ntfy_config'`),
    );
    expect(ntfyRaw?.value).to.not.include(SECRETS.ntfyToken);
    const ntfy = (await (await admin.request("/api/configuration/ntfy")).json()) as { ntfy: Record<string, unknown> };
    expect(ntfy.ntfy).to.deep.equal({
      url: "https://ntfy.example.com/",
      topic: "original-topic",
      hasAccessToken: true,
    });

    // Settings: legacy interval converted, every field of the current format, server defaults.
    const map = (
      (await (await admin.request("/api/configuration/backup-settings")).json()) as {
        backupSettings: Record<string, Record<string, unknown>>;
      }
    ).backupSettings;
    expect(map[`${ALPHA}:Documents`]).to.include({
      notificationEvent: "errors",
      overdueBackupCheckEnabled: false,
      expectedInterval: "12h",
      // lastBackupDate was not stored with the legacy entry: stepped 12 h from the latest run (2025-03-20T02:00Z).
      time: "2025-03-20T14:00:00.000Z",
    });
    expect(map[`${ALPHA}:Databases`]).to.deep.equal({
      notificationEvent: "all",
      overdueBackupCheckEnabled: true,
      expectedInterval: "1W",
      allowedWeekDays: [1, 3, 5],
      // Latest run Sunday 2025-03-09T02:07:09Z; + 1 week is a Sunday again, so the next allowed day, Monday.
      time: "2025-03-17T02:07:09.000Z",
      lastBackupDate: "2025-03-09T02:07:09.000Z",
      ntfyEnabled: false,
      emailEnabled: false,
      additionalNotificationEvent: "errors",
      additionalEmails: "a@example.com, b@example.com",
      additionalNtfyTopic: "extra-topic",
    });
    expect(map[`${ALPHA}:__default__`]).to.deep.equal({
      additionalEmails: "team@example.com",
      additionalNtfyTopic: "team-topic",
    });
    expect(Object.keys(map).some((k) => k.startsWith("no-such-server"))).to.equal(false);
    expect(r.stdout).to.include("settings of no-such-server:Job left out: no such server");

    // The original had already notified this overdue job: carried over as an episode notified then.
    const bravo = await server.app.db.read((q) =>
      q.get<Record<string, unknown>>(
        `SELECT overdue_since, overdue_notified_at, overdue_notice_count FROM jobs WHERE server_id = ? AND backup_name = 'Documents'`,
        [BRAVO],
      ),
    );
    expect(bravo).to.deep.equal({
      overdue_since: NOTICE_SENT,
      overdue_notified_at: NOTICE_SENT,
      overdue_notice_count: 1,
    });
  });

  it("without a key: everything else comes across and the encrypted secrets are reported for re-entry", async () => {
    const summary = await importer(server.app).importFile(file, { via: "cli" });
    expect(summary.runs.imported).to.equal(36);
    expect(summary.secrets.imported).to.equal(1); // the ntfy token, stored in clear by the original
    const reason = "encrypted with the original's key; no key file was given";
    expect(summary.secrets.reenter).to.deep.equal([
      { kind: "server_password", serverId: ALPHA, serverName: "ALPHA-01", reason },
      { kind: "server_password", serverId: BRAVO, serverName: "BRAVO-02", reason },
      { kind: "smtp_username", reason },
      { kind: "smtp_password", reason },
    ] satisfies ImportSummary["secrets"]["reenter"]);
    expect(await hasPassword(ALPHA)).to.equal(false);
    expect(await storedPassword(ALPHA)).to.equal("");
    const smtp = await notificationConfig().smtp();
    expect(smtp).to.include({ host: "smtp.example.com", username: "", password: "" });

    // Importing again, now with the key, fills in what was missing and changes nothing else.
    const again = await importer(server.app).importFile(file, { via: "cli", key });
    expect(again.runs.imported).to.equal(0);
    expect(again.secrets.reenter).to.deep.equal([]);
    expect(
      server.app.context.secrets.decrypt((await storedPassword(ALPHA)) as string, SERVER_PASSWORD_PURPOSE),
    ).to.equal(SECRETS.alpha);
    expect(await notificationConfig().smtp()).to.include({
      username: SECRETS.smtpUser,
      password: SECRETS.smtpPassword,
    });
  });

  it("with the wrong key: the secrets are reported as not decryptable, nothing else differs", async () => {
    const summary = await importer(server.app).importFile(file, { via: "cli", key: randomBytes(32) });
    expect(summary.runs.imported).to.equal(36);
    expect(summary.secrets.reenter.map((r) => r.kind)).to.deep.equal([
      "server_password",
      "server_password",
      "smtp_username",
      "smtp_password",
    ]);
    for (const r of summary.secrets.reenter) expect(r.reason).to.match(/does not decrypt/);
    expect(await hasPassword(ALPHA)).to.equal(false);
  });

  it('over HTTP, with the key as hex in the multipart field "key"', async () => {
    const form = new FormData();
    form.set("database", new Blob([fs.readFileSync(file)]), "backups.db");
    form.set("key", key.toString("hex"));
    const res = await admin.request("/api/database/import", { method: "POST", body: form });
    const text = await res.text();
    expect(res.status, text).to.equal(200);
    for (const secret of Object.values(SECRETS)) expect(text).to.not.include(secret);
    const body = JSON.parse(text) as ImportSummary & { success: boolean };
    expect(body.success).to.equal(true);
    expect(body.secrets).to.deep.equal({ imported: 5, reenter: [] });
    expect(await hasPassword(BRAVO)).to.equal(true);
    expect(
      server.app.context.secrets.decrypt((await storedPassword(BRAVO)) as string, SERVER_PASSWORD_PURPOSE),
    ).to.equal(SECRETS.bravo);
  });
});
