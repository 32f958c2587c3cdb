import { EntitySchema } from "typeorm";
import type { JobState, RunRecord } from "../core/domain";

/**
 * TypeORM entity schemas (EntitySchema rather than decorators: tsx emits no decorator metadata, and explicit column
 * types keep the mapping visible). The tables themselves are created by the migrations, never by `synchronize`.
 */

export interface ServerRow {
  id: string;
  name: string;
  server_url: string;
  alias: string;
  note: string;
  server_password: string;
  created_at: string;
  updated_at: string;
}

export interface ConfigurationRow {
  key: string;
  value: string | null;
}

export const ServerEntity = new EntitySchema<ServerRow>({
  name: "Server",
  tableName: "servers",
  columns: {
    id: { type: "text", primary: true },
    name: { type: "text" },
    server_url: { type: "text", default: "" },
    alias: { type: "text", default: "" },
    note: { type: "text", default: "" },
    server_password: { type: "text", default: "" },
    created_at: { type: "text" },
    updated_at: { type: "text" },
  },
});

const int = { type: "integer", default: 0 } as const;
const text = { type: "text", nullable: true } as const;

export const BackupRunEntity = new EntitySchema<RunRecord>({
  name: "BackupRun",
  tableName: "backups",
  columns: {
    id: { type: "text", primary: true },
    server_id: { type: "text" },
    backup_name: { type: "text" },
    backup_id: { type: "text" },
    date: { type: "text" },
    status: { type: "text" },
    duration_seconds: { type: "real" },
    size: int,
    uploaded_size: int,
    examined_files: int,
    warnings: int,
    errors: int,
    messages_array: text,
    warnings_array: text,
    errors_array: text,
    available_backups: { type: "text", default: "[]" },
    deleted_files: int,
    deleted_folders: int,
    modified_files: int,
    opened_files: int,
    added_files: int,
    size_of_modified_files: int,
    size_of_added_files: int,
    size_of_examined_files: int,
    size_of_opened_files: int,
    not_processed_files: int,
    added_folders: int,
    too_large_files: int,
    files_with_error: int,
    modified_folders: int,
    modified_symlinks: int,
    added_symlinks: int,
    deleted_symlinks: int,
    partial_backup: int,
    dryrun: int,
    interrupted: int,
    main_operation: { type: "text" },
    parsed_result: { type: "text" },
    version: text,
    begin_time: { type: "text" },
    end_time: { type: "text" },
    warnings_actual_length: int,
    errors_actual_length: int,
    messages_actual_length: int,
    bytes_downloaded: int,
    known_file_size: int,
    last_backup_date: text,
    backup_list_count: int,
    reported_quota_error: int,
    reported_quota_warning: int,
    backend_main_operation: text,
    backend_parsed_result: text,
    backend_version: text,
    backend_duration: text,
    backend_interrupted: int,
    backend_begin_time: text,
    backend_warnings_actual_length: int,
    backend_errors_actual_length: int,
    created_at: { type: "text" },
  },
  indices: [
    { name: "uq_backups_server_job_date", columns: ["server_id", "backup_name", "date"], unique: true },
    { name: "idx_backups_date", columns: ["date"] },
  ],
});

export const JobEntity = new EntitySchema<JobState>({
  name: "Job",
  tableName: "jobs",
  columns: {
    server_id: { type: "text", primary: true },
    backup_name: { type: "text", primary: true },
    backup_id: { type: "text" },
    run_count: int,
    uploaded_total: int,
    first_run_date: text,
    latest_run_id: text,
    latest_date: text,
    latest_status: text,
    latest_size: int,
    latest_known_file_size: int,
    latest_backup_list_count: int,
    latest_examined_files: int,
    last_success_date: text,
    monitoring_enabled: { type: "integer", default: 1 },
    expected_interval: { type: "text", default: "1D" },
    allowed_weekdays: { type: "text", default: "0,1,2,3,4,5,6" },
    next_expected_at: text,
    next_scheduled_run: text,
    updated_at: { type: "text" },
  },
});

export const ConfigurationEntity = new EntitySchema<ConfigurationRow>({
  name: "Configuration",
  tableName: "configurations",
  columns: {
    key: { type: "text", primary: true },
    value: text,
  },
});

export const ALL_ENTITIES = [ServerEntity, BackupRunEntity, JobEntity, ConfigurationEntity];
