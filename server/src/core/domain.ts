/** Domain types shared by the core, the HTTP layer and plugins. */

export const BACKUP_STATUSES = ["Success", "Unknown", "Warning", "Error", "Fatal"] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

export interface ServerRef {
  id: string;
  name: string;
  alias: string;
}

export interface JobRef {
  serverId: string;
  backupName: string;
}

/** One stored backup run, in the column names of the `backups` table (those of the original duplistatus). */
export interface RunRecord {
  id: string;
  server_id: string;
  backup_name: string;
  backup_id: string;
  date: string;
  status: BackupStatus;
  duration_seconds: number;
  size: number;
  uploaded_size: number;
  examined_files: number;
  warnings: number;
  errors: number;
  messages_array: string | null;
  warnings_array: string | null;
  errors_array: string | null;
  available_backups: string;
  deleted_files: number;
  deleted_folders: number;
  modified_files: number;
  opened_files: number;
  added_files: number;
  size_of_modified_files: number;
  size_of_added_files: number;
  size_of_examined_files: number;
  size_of_opened_files: number;
  not_processed_files: number;
  added_folders: number;
  too_large_files: number;
  files_with_error: number;
  modified_folders: number;
  modified_symlinks: number;
  added_symlinks: number;
  deleted_symlinks: number;
  partial_backup: number;
  dryrun: number;
  interrupted: number;
  main_operation: string;
  parsed_result: string;
  version: string | null;
  begin_time: string;
  end_time: string;
  warnings_actual_length: number;
  errors_actual_length: number;
  messages_actual_length: number;
  bytes_downloaded: number;
  known_file_size: number;
  last_backup_date: string | null;
  backup_list_count: number;
  reported_quota_error: number;
  reported_quota_warning: number;
  backend_main_operation: string | null;
  backend_parsed_result: string | null;
  backend_version: string | null;
  backend_duration: string | null;
  backend_interrupted: number;
  backend_begin_time: string | null;
  backend_warnings_actual_length: number;
  backend_errors_actual_length: number;
  created_at: string;
}

/** The column list of `backups`, in one place so inserts and selects cannot drift from the type. */
export const RUN_COLUMNS = [
  "id",
  "server_id",
  "backup_name",
  "backup_id",
  "date",
  "status",
  "duration_seconds",
  "size",
  "uploaded_size",
  "examined_files",
  "warnings",
  "errors",
  "messages_array",
  "warnings_array",
  "errors_array",
  "available_backups",
  "deleted_files",
  "deleted_folders",
  "modified_files",
  "opened_files",
  "added_files",
  "size_of_modified_files",
  "size_of_added_files",
  "size_of_examined_files",
  "size_of_opened_files",
  "not_processed_files",
  "added_folders",
  "too_large_files",
  "files_with_error",
  "modified_folders",
  "modified_symlinks",
  "added_symlinks",
  "deleted_symlinks",
  "partial_backup",
  "dryrun",
  "interrupted",
  "main_operation",
  "parsed_result",
  "version",
  "begin_time",
  "end_time",
  "warnings_actual_length",
  "errors_actual_length",
  "messages_actual_length",
  "bytes_downloaded",
  "known_file_size",
  "last_backup_date",
  "backup_list_count",
  "reported_quota_error",
  "reported_quota_warning",
  "backend_main_operation",
  "backend_parsed_result",
  "backend_version",
  "backend_duration",
  "backend_interrupted",
  "backend_begin_time",
  "backend_warnings_actual_length",
  "backend_errors_actual_length",
  "created_at",
] as const satisfies readonly (keyof RunRecord)[];

/** Per-job state the core maintains on every upload, so reads never scan the runs. */
export interface JobState {
  server_id: string;
  backup_name: string;
  backup_id: string;
  run_count: number;
  uploaded_total: number;
  first_run_date: string | null;
  latest_run_id: string | null;
  latest_date: string | null;
  latest_status: BackupStatus | null;
  latest_size: number;
  latest_known_file_size: number;
  latest_backup_list_count: number;
  /** The latest run's examined files: with the other latest_* gauges, what the chart roll-ups need of it. */
  latest_examined_files: number;
  last_success_date: string | null;
  monitoring_enabled: number;
  expected_interval: string;
  allowed_weekdays: string;
  next_expected_at: string | null;
  next_scheduled_run: string | null;
  updated_at: string;
  /** Runs stored per status (the Prometheus run counters); they add up to run_count. */
  runs_success: number;
  runs_warning: number;
  runs_error: number;
  runs_fatal: number;
  runs_unknown: number;
}

/** The `jobs` counter column of each run status. */
export const RUN_COUNTER_COLUMNS = {
  Success: "runs_success",
  Unknown: "runs_unknown",
  Warning: "runs_warning",
  Error: "runs_error",
  Fatal: "runs_fatal",
} as const satisfies Record<BackupStatus, keyof JobState>;
