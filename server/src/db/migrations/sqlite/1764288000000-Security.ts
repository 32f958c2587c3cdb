import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Users, browser sessions, API tokens and the audit log.
 * - sessions.id_hash and api_tokens.token_hash hold SHA-256 digests: a copy of the database does not hand out
 *   live sessions or tokens (both are 256-bit random values, so a fast hash is enough; passwords use argon2id).
 */
export class Security1764288000000 implements MigrationInterface {
  name = "Security1764288000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE users (
      id TEXT PRIMARY KEY NOT NULL,
      username TEXT NOT NULL UNIQUE,
      password_hash TEXT NOT NULL,
      is_admin INTEGER NOT NULL DEFAULT 0,
      must_change_password INTEGER NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      last_login_at TEXT,
      last_login_ip TEXT,
      failed_login_attempts INTEGER NOT NULL DEFAULT 0,
      locked_until TEXT
    )`);

    await q.query(`CREATE TABLE sessions (
      id_hash TEXT PRIMARY KEY NOT NULL,
      user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
      created_at TEXT NOT NULL,
      last_accessed TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      ip_address TEXT,
      user_agent TEXT,
      csrf_token TEXT,
      csrf_expires_at TEXT
    )`);
    await q.query(`CREATE INDEX idx_sessions_user_id ON sessions (user_id)`);
    await q.query(`CREATE INDEX idx_sessions_expires_at ON sessions (expires_at)`);

    await q.query(`CREATE TABLE api_tokens (
      id TEXT PRIMARY KEY NOT NULL,
      name TEXT NOT NULL,
      scope TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE,
      token_prefix TEXT NOT NULL,
      created_by TEXT,
      created_at TEXT NOT NULL,
      last_used_at TEXT,
      revoked_at TEXT
    )`);

    await q.query(`CREATE TABLE audit_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      timestamp TEXT NOT NULL,
      user_id TEXT,
      username TEXT,
      action TEXT NOT NULL,
      category TEXT NOT NULL,
      target_type TEXT,
      target_id TEXT,
      details TEXT,
      ip_address TEXT,
      user_agent TEXT,
      status TEXT NOT NULL,
      error_message TEXT
    )`);
    await q.query(`CREATE INDEX idx_audit_timestamp ON audit_log (timestamp)`);
    await q.query(`CREATE INDEX idx_audit_action ON audit_log (action)`);
    await q.query(`CREATE INDEX idx_audit_category ON audit_log (category)`);
    await q.query(`CREATE INDEX idx_audit_user_id ON audit_log (user_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP TABLE api_tokens`);
    await q.query(`DROP TABLE sessions`);
    await q.query(`DROP TABLE users`);
  }
}
