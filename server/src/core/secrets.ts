import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const KEY_FILE = ".duplistatus.key";
const PREFIX = "enc:v1:";

/**
 * Encryption at rest for stored secrets (SMTP password, ntfy token, Duplicati server passwords, plugin secrets).
 * A 32-byte key lives in DATA_DIR/.duplistatus.key (created at first start, mode 0600); each value gets its own
 * AES-256-GCM nonce, and the key is derived per purpose (HKDF) so one value's ciphertext is useless in another
 * column. Stored form: `enc:v1:<iv>:<tag>:<ciphertext>` in base64url.
 */
export class SecretBox {
  private constructor(private readonly master: Buffer) {}

  static openOrCreate(dataDir: string): SecretBox {
    const file = path.join(dataDir, KEY_FILE);
    fs.mkdirSync(dataDir, { recursive: true });
    if (!fs.existsSync(file)) {
      try {
        // "wx": fail if another process created it first, then read theirs.
        fs.writeFileSync(file, randomBytes(32), { mode: 0o600, flag: "wx" });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
    const key = fs.readFileSync(file);
    if (key.length !== 32) throw new Error(`${file} must hold exactly 32 bytes`);
    return new SecretBox(key);
  }

  static isEncrypted(value: string | null | undefined): boolean {
    return typeof value === "string" && value.startsWith(PREFIX);
  }

  private key(purpose: string): Buffer {
    return Buffer.from(hkdfSync("sha256", this.master, Buffer.alloc(0), `duplistatus:${purpose}`, 32));
  }

  encrypt(plain: string, purpose: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key(purpose), iv);
    const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return `${PREFIX}${iv.toString("base64url")}:${cipher.getAuthTag().toString("base64url")}:${ct.toString("base64url")}`;
  }

  /** Throws when the value was not made with this key and purpose. */
  decrypt(stored: string, purpose: string): string {
    if (!SecretBox.isEncrypted(stored)) throw new Error("value is not encrypted");
    const [iv, tag, ct] = stored.slice(PREFIX.length).split(":");
    if (!iv || !tag || ct === undefined) throw new Error("malformed encrypted value");
    const decipher = createDecipheriv("aes-256-gcm", this.key(purpose), Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
  }
}
