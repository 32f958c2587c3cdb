import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * PostgreSQL twin of sqlite/1764201600000-Initial.ts (same class name, so a database's migration record reads the
 * same on both). Types: BIGINT for counters and sizes, DOUBLE PRECISION for REAL, TEXT for the ISO-8601 timestamps
 * (they sort and compare as strings, as on SQLite), INTEGER for 0/1 flags.
 */
export class Initial1764201600000 implements MigrationInterface {
  name = "Initial1764201600000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE servers (
      id TEXT PRIMARY KEY NOT NULL,
      name TEXT NOT NULL,
      server_url TEXT NOT NULL DEFAULT '',
      alias TEXT NOT NULL DEFAULT '',
      note TEXT NOT NULL DEFAULT '',
      server_password TEXT NOT NULL DEFAULT '',
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`);
    await q.query(`CREATE INDEX idx_servers_name ON servers (name)`);

    await q.query(`CREATE TABLE backups (
      id TEXT PRIMARY KEY NOT NULL,
      server_id TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
      backup_name TEXT NOT NULL,
      backup_id TEXT NOT NULL,
      date TEXT NOT NULL,
      status TEXT NOT NULL,
      duration_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
      size BIGINT NOT NULL DEFAULT 0,
      uploaded_size BIGINT NOT NULL DEFAULT 0,
      examined_files BIGINT NOT NULL DEFAULT 0,
      warnings BIGINT NOT NULL DEFAULT 0,
      errors BIGINT NOT NULL DEFAULT 0,
      messages_array TEXT,
      warnings_array TEXT,
      errors_array TEXT,
      available_backups TEXT NOT NULL DEFAULT '[]',
      deleted_files BIGINT NOT NULL DEFAULT 0,
      deleted_folders BIGINT NOT NULL DEFAULT 0,
      modified_files BIGINT NOT NULL DEFAULT 0,
      opened_files BIGINT NOT NULL DEFAULT 0,
      added_files BIGINT NOT NULL DEFAULT 0,
      size_of_modified_files BIGINT NOT NULL DEFAULT 0,
      size_of_added_files BIGINT NOT NULL DEFAULT 0,
      size_of_examined_files BIGINT NOT NULL DEFAULT 0,
      size_of_opened_files BIGINT NOT NULL DEFAULT 0,
      not_processed_files BIGINT NOT NULL DEFAULT 0,
      added_folders BIGINT NOT NULL DEFAULT 0,
      too_large_files BIGINT NOT NULL DEFAULT 0,
      files_with_error BIGINT NOT NULL DEFAULT 0,
      modified_folders BIGINT NOT NULL DEFAULT 0,
      modified_symlinks BIGINT NOT NULL DEFAULT 0,
      added_symlinks BIGINT NOT NULL DEFAULT 0,
      deleted_symlinks BIGINT NOT NULL DEFAULT 0,
      partial_backup BIGINT NOT NULL DEFAULT 0,
      dryrun BIGINT NOT NULL DEFAULT 0,
      interrupted BIGINT NOT NULL DEFAULT 0,
      main_operation TEXT NOT NULL,
      parsed_result TEXT NOT NULL,
      version TEXT,
      begin_time TEXT NOT NULL,
      end_time TEXT NOT NULL,
      warnings_actual_length BIGINT NOT NULL DEFAULT 0,
      errors_actual_length BIGINT NOT NULL DEFAULT 0,
      messages_actual_length BIGINT NOT NULL DEFAULT 0,
      bytes_downloaded BIGINT NOT NULL DEFAULT 0,
      known_file_size BIGINT NOT NULL DEFAULT 0,
      last_backup_date TEXT,
      backup_list_count BIGINT NOT NULL DEFAULT 0,
      reported_quota_error BIGINT NOT NULL DEFAULT 0,
      reported_quota_warning BIGINT NOT NULL DEFAULT 0,
      backend_main_operation TEXT,
      backend_parsed_result TEXT,
      backend_version TEXT,
      backend_duration TEXT,
      backend_interrupted BIGINT NOT NULL DEFAULT 0,
      backend_begin_time TEXT,
      backend_warnings_actual_length BIGINT NOT NULL DEFAULT 0,
      backend_errors_actual_length BIGINT NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL
    )`);
    await q.query(`CREATE UNIQUE INDEX uq_backups_server_job_date ON backups (server_id, backup_name, date)`);
    await q.query(`CREATE INDEX idx_backups_date ON backups (date)`);

    await q.query(`CREATE TABLE jobs (
      server_id TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
      backup_name TEXT NOT NULL,
      backup_id TEXT NOT NULL DEFAULT '',
      run_count BIGINT NOT NULL DEFAULT 0,
      uploaded_total BIGINT NOT NULL DEFAULT 0,
      first_run_date TEXT,
      latest_run_id TEXT,
      latest_date TEXT,
      latest_status TEXT,
      latest_size BIGINT NOT NULL DEFAULT 0,
      latest_known_file_size BIGINT NOT NULL DEFAULT 0,
      latest_backup_list_count BIGINT NOT NULL DEFAULT 0,
      last_success_date TEXT,
      monitoring_enabled INTEGER NOT NULL DEFAULT 1,
      expected_interval TEXT NOT NULL DEFAULT '1D',
      allowed_weekdays TEXT NOT NULL DEFAULT '0,1,2,3,4,5,6',
      next_expected_at TEXT,
      next_scheduled_run TEXT,
      updated_at TEXT NOT NULL,
      PRIMARY KEY (server_id, backup_name)
    )`);
    await q.query(`CREATE INDEX idx_jobs_server_latest ON jobs (server_id, latest_date)`);
    await q.query(`CREATE INDEX idx_jobs_next_expected ON jobs (next_expected_at)`);

    await q.query(`CREATE TABLE configurations (key TEXT PRIMARY KEY NOT NULL, value TEXT)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE configurations`);
    await q.query(`DROP TABLE jobs`);
    await q.query(`DROP TABLE backups`);
    await q.query(`DROP TABLE servers`);
  }
}
