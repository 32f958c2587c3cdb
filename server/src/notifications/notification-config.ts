import { randomInt } from "node:crypto";
import { HttpError } from "../core/errors";
import { SecretBox } from "../core/secrets";
import type { Database, Queryable } from "../db/database";
import { getConfigValue, setConfigValue } from "../store/configuration-store";
import {
  type NotificationTemplate,
  TEMPLATE_KINDS,
  type TemplateKind,
  type TemplateLanguage,
  type TemplateSettings,
  mergeTemplate,
  parseTemplateSettings,
} from "./templates";

/**
 * The notification channels' settings in the `configurations` table (reference §4.2): `ntfy_config`, `smtp_config`
 * and `notification_templates`. Secrets (the ntfy access token, the SMTP username and password) are stored
 * encrypted with the SecretBox. The getters for the plugins return them decrypted; the `*View` methods, which are
 * what HTTP answers, never do (they say `hasAccessToken` / `hasPassword` instead).
 */

export const NTFY_KEY = "ntfy_config";
export const SMTP_KEY = "smtp_config";
export const TEMPLATES_KEY = "notification_templates";
export const DEFAULT_NTFY_URL = "https://ntfy.sh/";

const NTFY_TOKEN_PURPOSE = "ntfy-token";
const SMTP_PURPOSE = "smtp";

export interface NtfyConfig {
  url: string;
  topic: string;
  /** "" when none. */
  accessToken: string;
}

export interface NtfyView {
  url: string;
  topic: string;
  hasAccessToken: boolean;
}

export const CONNECTION_TYPES = ["plain", "starttls", "ssl"] as const;
export type ConnectionType = (typeof CONNECTION_TYPES)[number];

export interface SmtpConfig {
  host: string;
  port: number;
  connectionType: ConnectionType;
  username: string;
  password: string;
  /** One address, or several separated by commas. */
  mailto: string;
  senderName: string;
  fromAddress: string;
  requireAuth: boolean;
}

export type SmtpView = Omit<SmtpConfig, "password"> & { hasPassword: boolean };

export interface SmtpInput {
  host: string;
  port: number;
  connectionType: ConnectionType;
  username?: string;
  /** Omitted: keep the stored password. */
  password?: string;
  mailto: string;
  senderName?: string;
  fromAddress?: string;
  requireAuth: boolean;
}

/** Stored secrets that this key cannot open (e.g. a database restored from another installation). */
export class MasterKeyError extends Error {
  constructor(what: string) {
    super(`${what} cannot be decrypted with this installation's key; save the settings again`);
  }
}

const TOPIC_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `duplistatus-` + 12 random [A-Za-z0-9] (uniform: randomInt does not suffer modulo bias). */
export function generateTopic(): string {
  let s = "";
  for (let i = 0; i < 12; i++) s += TOPIC_ALPHABET[randomInt(TOPIC_ALPHABET.length)];
  return `duplistatus-${s}`;
}

interface StoredNtfy {
  url?: unknown;
  topic?: unknown;
  accessToken?: unknown;
  /** Set on the defaults made when the settings were first read: the channel sends nothing until an admin saves. */
  generated?: unknown;
}

interface StoredSmtp {
  host?: unknown;
  port?: unknown;
  connectionType?: unknown;
  username?: unknown;
  password?: unknown;
  mailto?: unknown;
  senderName?: unknown;
  fromAddress?: unknown;
  requireAuth?: unknown;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

function parseJson<T>(raw: string | null): T | null {
  if (!raw) return null;
  try {
    const v: unknown = JSON.parse(raw);
    return v && typeof v === "object" ? (v as T) : null;
  } catch {
    return null;
  }
}

export class NotificationConfigService {
  constructor(private readonly deps: { db: Database; secrets: SecretBox }) {}

  // ---- ntfy ------------------------------------------------------------------------------------------------------

  private ntfyToken(stored: StoredNtfy): string {
    const token = str(stored.accessToken);
    // The original stores the token in clear: such a value (a restored database) is used as is until saved again.
    if (!SecretBox.isEncrypted(token)) return token;
    try {
      return this.deps.secrets.decrypt(token, NTFY_TOKEN_PURPOSE);
    } catch {
      throw new MasterKeyError("The ntfy access token");
    }
  }

  private async readNtfy(q: Queryable): Promise<StoredNtfy | null> {
    return parseJson<StoredNtfy>(await getConfigValue(q, NTFY_KEY));
  }

  /**
   * The settings as HTTP shows them. When none are stored yet, defaults with a freshly generated topic are stored
   * (so the topic shown stays the same) but marked as generated: nothing is sent until an admin saves them.
   */
  async ntfyView(): Promise<NtfyView> {
    const existing = await this.deps.db.read((q) => this.readNtfy(q));
    const stored =
      existing && str(existing.topic)
        ? existing
        : await this.deps.db.write(async (q) => {
            const current = await this.readNtfy(q);
            if (current && str(current.topic)) return current;
            const made: StoredNtfy = {
              url: str(current?.url) || DEFAULT_NTFY_URL,
              topic: generateTopic(),
              accessToken: str(current?.accessToken),
              generated: current ? current.generated === true : true,
            };
            await setConfigValue(q, NTFY_KEY, JSON.stringify(made));
            return made;
          });
    return {
      url: str(stored.url) || DEFAULT_NTFY_URL,
      topic: str(stored.topic),
      hasAccessToken: str(stored.accessToken) !== "",
    };
  }

  /** The settings the ntfy plugin sends with (token decrypted), or null while no admin has saved any. */
  async ntfy(): Promise<NtfyConfig | null> {
    const stored = await this.deps.db.read((q) => this.readNtfy(q));
    if (!stored || stored.generated === true || !str(stored.topic)) return null;
    return { url: str(stored.url) || DEFAULT_NTFY_URL, topic: str(stored.topic), accessToken: this.ntfyToken(stored) };
  }

  /** The stored access token, whether or not the channel is active ("" when none); for test sends. */
  async ntfyStoredToken(): Promise<string> {
    const stored = await this.deps.db.read((q) => this.readNtfy(q));
    return stored ? this.ntfyToken(stored) : "";
  }

  /**
   * Saves the ntfy settings. An empty topic gets a generated one; an omitted access token keeps the stored one and
   * "" removes it.
   */
  async saveNtfy(input: { url?: string; topic?: string; accessToken?: string }): Promise<NtfyView> {
    const saved = await this.deps.db.write(async (q) => {
      const current = await this.readNtfy(q);
      const token =
        input.accessToken === undefined
          ? str(current?.accessToken)
          : input.accessToken === ""
            ? ""
            : this.deps.secrets.encrypt(input.accessToken, NTFY_TOKEN_PURPOSE);
      // A token stored in clear (restored from the original) is encrypted on the next save.
      const storedToken =
        token && !SecretBox.isEncrypted(token) ? this.deps.secrets.encrypt(token, NTFY_TOKEN_PURPOSE) : token;
      const next = {
        url: input.url?.trim() || str(current?.url) || DEFAULT_NTFY_URL,
        topic: (input.topic === undefined ? str(current?.topic) : input.topic.trim()) || generateTopic(),
        accessToken: storedToken,
      };
      await setConfigValue(q, NTFY_KEY, JSON.stringify(next));
      return next;
    });
    return { url: saved.url, topic: saved.topic, hasAccessToken: saved.accessToken !== "" };
  }

  // ---- SMTP ------------------------------------------------------------------------------------------------------

  private openSmtpSecret(value: unknown, what: string): string {
    const v = str(value);
    if (v === "") return "";
    if (!SecretBox.isEncrypted(v)) throw new MasterKeyError(what);
    try {
      return this.deps.secrets.decrypt(v, SMTP_PURPOSE);
    } catch {
      throw new MasterKeyError(what);
    }
  }

  private sealSmtpSecret(plain: string): string {
    return plain === "" ? "" : this.deps.secrets.encrypt(plain, SMTP_PURPOSE);
  }

  private async readSmtp(q: Queryable): Promise<StoredSmtp | null> {
    const stored = parseJson<StoredSmtp>(await getConfigValue(q, SMTP_KEY));
    return stored && str(stored.host) ? stored : null;
  }

  private decode(stored: StoredSmtp): SmtpConfig {
    const type = str(stored.connectionType);
    return {
      host: str(stored.host),
      port: Number(stored.port) || 587,
      connectionType: (CONNECTION_TYPES as readonly string[]).includes(type) ? (type as ConnectionType) : "starttls",
      username: this.openSmtpSecret(stored.username, "The SMTP username"),
      password: this.openSmtpSecret(stored.password, "The SMTP password"),
      mailto: str(stored.mailto),
      senderName: str(stored.senderName),
      fromAddress: str(stored.fromAddress),
      requireAuth: stored.requireAuth !== false,
    };
  }

  /** The settings the e-mail plugin sends with (secrets decrypted), or null when none are stored. */
  async smtp(): Promise<SmtpConfig | null> {
    const stored = await this.deps.db.read((q) => this.readSmtp(q));
    return stored ? this.decode(stored) : null;
  }

  /** The settings as HTTP shows them (no password). Throws MasterKeyError when they cannot be decrypted. */
  async smtpView(): Promise<SmtpView | null> {
    const cfg = await this.smtp();
    if (!cfg) return null;
    const { password, ...rest } = cfg;
    return { ...rest, hasPassword: password !== "" };
  }

  /** Saves the SMTP settings; an omitted password keeps the stored one. */
  async saveSmtp(input: SmtpInput): Promise<void> {
    await this.deps.db.write(async (q) => {
      const current = await this.readSmtp(q);
      const password = input.password === undefined ? str(current?.password) : this.sealSmtpSecret(input.password);
      await setConfigValue(
        q,
        SMTP_KEY,
        JSON.stringify({
          host: input.host,
          port: input.port,
          connectionType: input.connectionType,
          username: this.sealSmtpSecret(input.username ?? ""),
          password,
          mailto: input.mailto,
          senderName: input.senderName ?? "",
          fromAddress: input.fromAddress ?? "",
          requireAuth: input.requireAuth,
        }),
      );
    });
  }

  /** Returns false when there was nothing to delete. */
  async deleteSmtp(): Promise<boolean> {
    return this.deps.db.write(async (q) => {
      if (!(await this.readSmtp(q))) return false;
      const r = await q.run(`DELETE FROM configurations WHERE key = ?`, [SMTP_KEY]);
      return r.changes > 0;
    });
  }

  async hasSmtpSettings(): Promise<boolean> {
    return (await this.deps.db.read((q) => this.readSmtp(q))) !== null;
  }

  async hasSmtpPassword(): Promise<boolean> {
    const stored = await this.deps.db.read((q) => this.readSmtp(q));
    return str(stored?.password) !== "";
  }

  /**
   * Sets (or with "" clears) the SMTP password. Without stored settings, `config` must supply them (host, port,
   * mailto); with stored settings, `config` fields are ignored except to create.
   */
  async setSmtpPassword(password: string, config?: Omit<SmtpInput, "password">): Promise<void> {
    await this.deps.db.write(async (q) => {
      const current = await this.readSmtp(q);
      let next: StoredSmtp;
      if (current) next = { ...current, password: this.sealSmtpSecret(password) };
      else if (config) {
        next = {
          host: config.host,
          port: config.port,
          connectionType: config.connectionType,
          username: this.sealSmtpSecret(config.username ?? ""),
          password: this.sealSmtpSecret(password),
          mailto: config.mailto,
          senderName: config.senderName ?? "",
          fromAddress: config.fromAddress ?? "",
          requireAuth: config.requireAuth,
        };
      } else {
        throw new HttpError(400, {
          error: "SMTP configuration is required",
          message: "No SMTP settings are stored yet: send config {host, port, mailto, …} with the password",
        });
      }
      await setConfigValue(q, SMTP_KEY, JSON.stringify(next));
    });
  }

  // ---- templates -------------------------------------------------------------------------------------------------

  async templates(): Promise<TemplateSettings> {
    return parseTemplateSettings(await this.deps.db.read((q) => getConfigValue(q, TEMPLATES_KEY)));
  }

  /** Merges a partial update (language, and per template any of title/message/priority/tags) into the stored set. */
  async saveTemplates(
    patch: {
      language?: TemplateLanguage;
    } & Partial<Record<TemplateKind, Partial<NotificationTemplate>>>,
  ): Promise<TemplateSettings> {
    return this.deps.db.write(async (q) => {
      const current = parseTemplateSettings(await getConfigValue(q, TEMPLATES_KEY));
      const next: TemplateSettings = { ...current, language: patch.language ?? current.language };
      for (const kind of TEMPLATE_KINDS) next[kind] = mergeTemplate(current[kind], patch[kind]);
      await setConfigValue(q, TEMPLATES_KEY, JSON.stringify(next));
      return next;
    });
  }
}
