import type { Clock } from "../core/clock";
import type { PluginSettingsRow, PluginSettingsStore } from "../core/plugin-host";
import type { Database } from "../db/database";

/** The `plugin_settings` table: enabled flag and configuration (secrets encrypted) per plugin name. */
export class DbPluginSettingsStore implements PluginSettingsStore {
  constructor(private readonly deps: { db: Database; clock: Clock }) {}

  async get(name: string): Promise<PluginSettingsRow | null> {
    const row = await this.deps.db.read((q) =>
      q.get<{ enabled: number; config: string | null }>(`SELECT enabled, config FROM plugin_settings WHERE name = ?`, [
        name,
      ]),
    );
    return row ? { enabled: Number(row.enabled) === 1, config: row.config ?? null } : null;
  }

  async setEnabled(name: string, enabled: boolean): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    await this.deps.db.write((q) =>
      q.run(
        `INSERT INTO plugin_settings (name, enabled, config, updated_at) VALUES (?, ?, NULL, ?)
         ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`,
        [name, enabled ? 1 : 0, now],
      ),
    );
  }

  async setConfig(name: string, config: string): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    await this.deps.db.write((q) =>
      q.run(
        `INSERT INTO plugin_settings (name, enabled, config, updated_at) VALUES (?, 1, ?, ?)
         ON CONFLICT (name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
        [name, config, now],
      ),
    );
  }
}
