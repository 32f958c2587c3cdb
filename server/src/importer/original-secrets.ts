import { createDecipheriv, pbkdf2Sync } from "node:crypto";

/**
 * The original duplistatus' encrypted values (reference §4.3): `servers.server_password` and the SMTP username and
 * password. Each value is AES-256-GCM under a key derived per value with PBKDF2-SHA256 (100 000 iterations, 32 bytes)
 * from the 32-byte master key in its `data/.duplistatus.key` and a random 32-byte salt, with a 12-byte IV, stored as
 * `saltHex:ivHex:tagHex:cipherHex`. Only decryption lives here: what is read is sealed again with our SecretBox.
 */

const PBKDF2_ITERATIONS = 100_000;
const KEY_BYTES = 32;
const CIPHERTEXT = /^[0-9a-f]{64}:[0-9a-f]{24}:[0-9a-f]{32}:(?:[0-9a-f]{2})*$/i;

/** Whether a stored value has the original's encrypted form (anything else was stored in clear). */
export function isOriginalCiphertext(value: string): boolean {
  return CIPHERTEXT.test(value);
}

/** The value in clear; throws when the key does not open it (a wrong key file or a damaged value). */
export function decryptOriginalSecret(value: string, masterKey: Buffer): string {
  if (!isOriginalCiphertext(value)) throw new Error("not a value encrypted by the original duplistatus");
  const [salt, iv, tag, cipher] = value.split(":").map((part) => Buffer.from(part, "hex")) as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
  ];
  const key = pbkdf2Sync(masterKey, salt, PBKDF2_ITERATIONS, KEY_BYTES, "sha256");
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(cipher), decipher.final()]).toString("utf8");
}

/** The key file holds something other than the original's 32-byte master key. */
export class InvalidKeyError extends Error {}

/**
 * The master key from the contents of the original's key file: its 32 raw bytes, or those bytes written as 64 hex
 * digits or in base64 (how a browser form, which sends text, carries it).
 */
export function parseOriginalKey(content: Buffer | string): Buffer {
  if (Buffer.isBuffer(content) && content.length === KEY_BYTES) return Buffer.from(content);
  const text = (Buffer.isBuffer(content) ? content.toString("latin1") : content).trim();
  if (/^[0-9a-f]{64}$/i.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (bytes.length === KEY_BYTES) return bytes;
  }
  throw new InvalidKeyError(
    "the key must be the original's data/.duplistatus.key: 32 bytes (or those bytes as 64 hex digits or base64)",
  );
}
