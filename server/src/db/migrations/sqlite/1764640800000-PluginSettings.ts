import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Per-plugin settings of the plugin host: whether the plugin is enabled (a plugin without a row is enabled), and
 * its configuration as validated JSON with the values of the fields the plugin declares secret encrypted with the
 * SecretBox (`enc:v1:…`). NULL config = the plugin's defaults.
 */
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
