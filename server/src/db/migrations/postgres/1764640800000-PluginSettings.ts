import type { MigrationInterface, QueryRunner } from "typeorm";

/** PostgreSQL twin of sqlite/1764640800000-PluginSettings.ts (per-plugin enabled flag and JSON configuration). */
export class PluginSettings1764640800000 implements MigrationInterface {
  name = "PluginSettings1764640800000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE plugin_settings (
      name TEXT PRIMARY KEY NOT NULL,
      enabled INTEGER NOT NULL DEFAULT 1,
      config TEXT,
      updated_at TEXT NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE plugin_settings`);
  }
}
