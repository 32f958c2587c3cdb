import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { loadFixture } from "../support/server";

/**
 * A fake Duplicati server for the collect tests: a real node:http (or node:https, self-signed) server that answers
 * the Duplicati REST calls duplistatus makes, with recorded-style bodies, and can be told to fail (401, 500, no
 * answer at all).
 */

// ─── a self-signed certificate without openssl or a package: DER by hand, signed with node:crypto ───────────────

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const der = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};
const seq = (...parts: Buffer[]) => der(0x30, ...parts);
const set = (...parts: Buffer[]) => der(0x31, ...parts);
function oid(text: string): Buffer {
  const [a = 0, b = 0, ...rest] = text.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const chunk: number[] = [];
    let v = n;
    do {
      chunk.unshift(v & 0x7f);
      v >>= 7;
    } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i] = (chunk[i] as number) | 0x80;
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}
const utcTime = (d: Date) => der(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z"));
const name = (cn: string) => seq(set(seq(oid("2.5.4.3"), der(0x0c, Buffer.from(cn)))));

/** A self-signed EC P-256 certificate for "localhost" / 127.0.0.1, valid for a day, as PEM. */
export function selfSignedCertificate(): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const ecdsaSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const serial = randomBytes(8);
  // DER INTEGER: positive (top bit clear) and minimal (no leading zero byte), or X509Certificate refuses it.
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01;
  const now = Date.now();
  // subjectAltName: DNS localhost, IP 127.0.0.1
  const san = seq(
    oid("2.5.29.17"),
    der(0x04, seq(der(0x82, Buffer.from("localhost")), der(0x87, Buffer.from([127, 0, 0, 1])))),
  );
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, serial),
    ecdsaSha256,
    name("localhost"),
    seq(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 86_400_000))),
    name("localhost"),
    publicKey.export({ type: "spki", format: "der" }),
    der(0xa3, seq(san)),
  );
  const signature = sign("sha256", tbs, privateKey);
  const certDer = seq(tbs, ecdsaSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const cert = `-----BEGIN CERTIFICATE-----\n${certDer.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
  new X509Certificate(cert); // throws if the encoding is wrong
  const key = createPrivateKey(privateKey.export({ type: "pkcs8", format: "pem" })).export({
    type: "pkcs8",
    format: "pem",
  }) as string;
  return { key, cert };
}

// ─── recorded-style data ─────────────────────────────────────────────────────────────────────────────────────────

type Json = Record<string, unknown>;

/** The Data of one backup run as Duplicati keeps it in its log (generator/collect shape: Messages/Warnings/Errors). */
export function runData(
  begin: string,
  options: { status?: string; durationSeconds?: number; operation?: string } = {},
): Json {
  const data = (loadFixture<{ Data: Json }>("03-warning-generator-style.json").Data as Json) ?? {};
  const seconds = options.durationSeconds ?? 300;
  const start = new Date(begin);
  const pad = (n: number) => String(n).padStart(2, "0");
  return {
    ...data,
    MainOperation: options.operation ?? "Backup",
    ParsedResult: options.status ?? "Success",
    WarningsActualLength: options.status === "Warning" ? 2 : 0,
    Warnings: options.status === "Warning" ? ["Warning 001", "Warning 002"] : [],
    BeginTime: start.toISOString().replace(".000Z", ".1234567Z"),
    EndTime: new Date(start.getTime() + seconds * 1000).toISOString(),
    Duration: `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`,
  };
}

/** One entry of GET /api/v1/backup/<ID>/log: the run's Data as a JSON string in Message. */
export function logEntry(id: number, data: Json | string): Json {
  return {
    ID: id,
    OperationID: id,
    Timestamp: 1_750_000_000 + id,
    Type: "Result",
    Message: typeof data === "string" ? data : JSON.stringify(data),
    Exception: null,
  };
}

export interface FakeBackup {
  id: string;
  name: string;
  schedule?: Json | null;
  log: Json[];
}

export interface FakeState {
  password: string;
  machineId: string;
  machineName: string;
  /** Duplicati 2.4+: machine-id left empty in systeminfo, given by /api/v1/serversettings. */
  machineIdOnlyInSettings?: boolean;
  backups: FakeBackup[];
  /** Paths (without query) answered with this status and an error body. */
  failures: Map<string, number>;
  /** Paths (without query) never answered. */
  hang: Set<string>;
}

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

const TOKEN = "fake-access-token";

export class FakeDuplicati {
  readonly requests: RecordedRequest[] = [];
  private server!: http.Server;
  port = 0;

  constructor(
    readonly state: FakeState,
    private readonly tls = false,
  ) {}

  get url(): string {
    return `${this.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  async start(host = "127.0.0.1", port = 0): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
    this.server = this.tls ? https.createServer(selfSignedCertificate(), handler) : http.createServer(handler);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      this.requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        authorization: req.headers.authorization,
        body,
      });
      const path = (req.url ?? "").split("?")[0] ?? "";
      if (this.state.hang.has(path)) return; // never answers
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify(value));
      };
      const failure = this.state.failures.get(path);
      if (failure) return json(failure, { Error: "Internal error", Code: failure });
      if (req.method === "POST" && path === "/api/v1/auth/login") {
        let password: unknown;
        try {
          password = (JSON.parse(body) as { Password?: unknown }).Password;
        } catch {
          password = undefined;
        }
        if (password !== this.state.password) return json(401, { Error: "Failed to log in", Code: 401 });
        return json(200, { AccessToken: TOKEN, RefreshNonce: "nonce" });
      }
      if (!path.startsWith("/api/v1/")) {
        res.writeHead(404, { "content-type": "text/html" });
        return res.end("<html><body>Not found</body></html>");
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { Error: "Unauthorized", Code: 401 });
      if (req.method === "GET" && path === "/api/v1/systeminfo") {
        return json(200, {
          APIVersion: 1,
          MachineName: this.state.machineName,
          ServerVersion: "2.1.0.5",
          Options: [
            { Name: "machine-id", DefaultValue: this.state.machineIdOnlyInSettings ? "" : this.state.machineId },
            { Name: "machine-name", DefaultValue: this.state.machineName },
            { Name: "dblock-size", DefaultValue: "50mb" },
          ],
          CompressionModules: [{ Key: "zip" }],
          BackendModules: [{ Key: "file" }],
        });
      }
      if (req.method === "GET" && path === "/api/v1/serversettings") {
        return json(200, { "--machine-id": this.state.machineId, "server-port-changed": "True" });
      }
      if (req.method === "GET" && path === "/api/v1/backups") {
        return json(
          200,
          this.state.backups.map((b) => ({
            Backup: {
              ID: b.id,
              Name: b.name,
              TargetURL: `ssh://backup.example/${b.name}?auth-username=u&auth-password=secret`,
              Settings: [
                { Name: "passphrase", Value: "very-secret" },
                { Name: "dblock-size", Value: "50mb" },
              ],
            },
            Schedule: b.schedule ?? null,
            IsUnencryptedOrPassphraseStored: true,
          })),
        );
      }
      const log = /^\/api\/v1\/backup\/([^/]+)\/log$/.exec(path);
      if (req.method === "GET" && log) {
        const backup = this.state.backups.find((b) => b.id === decodeURIComponent(log[1] ?? ""));
        if (!backup) return json(404, { Error: "Not found", Code: 404 });
        return json(200, backup.log);
      }
      json(404, { Error: "Not found", Code: 404 });
    });
  }
}

export function fakeState(overrides: Partial<FakeState> = {}): FakeState {
  return {
    password: "duplicati-pw",
    machineId: "f00dfeedf00dfeedf00dfeedf00dfeed",
    machineName: "NAS-01",
    backups: [],
    failures: new Map(),
    hang: new Set(),
    ...overrides,
  };
}

/** A web server that is not Duplicati: every path answers `status` with an HTML page. */
export async function plainWebServer(status: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { "content-type": "text/html" });
    res.end("<!doctype html><html><body>It works!</body></html>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
