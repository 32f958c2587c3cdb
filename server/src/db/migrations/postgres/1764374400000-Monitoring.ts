import type { MigrationInterface, QueryRunner } from "typeorm";

/** PostgreSQL twin of sqlite/1764374400000-Monitoring.ts (overdue episodes, per-job notification settings). */
export class Monitoring1764374400000 implements MigrationInterface {
  name = "Monitoring1764374400000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN overdue_since TEXT`);
    await q.query(`ALTER TABLE jobs ADD COLUMN overdue_notified_at TEXT`);
    await q.query(`ALTER TABLE jobs ADD COLUMN overdue_notice_count INTEGER NOT NULL DEFAULT 0`);
    await q.query(`CREATE TABLE job_notification_settings (
      server_id TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
      backup_name TEXT NOT NULL,
      notification_event TEXT,
      ntfy_enabled INTEGER,
      email_enabled INTEGER,
      additional_notification_event TEXT,
      additional_emails TEXT,
      additional_ntfy_topic TEXT,
      updated_at TEXT NOT NULL,
      PRIMARY KEY (server_id, backup_name)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE job_notification_settings`);
    await q.query(`ALTER TABLE jobs DROP COLUMN overdue_notice_count`);
    await q.query(`ALTER TABLE jobs DROP COLUMN overdue_notified_at`);
    await q.query(`ALTER TABLE jobs DROP COLUMN overdue_since`);
  }
}
