import { BACKUP_STATUSES, type JobState, RUN_COUNTER_COLUMNS, type RunRecord } from "./domain";
import { computeNextExpected } from "../monitoring/schedule";
import { isoString } from "../ingest/dates";
import { memoByString } from "./memo-by-string";

const ALL_DAYS = "0,1,2,3,4,5,6";

export const parseWeekdays = (text: string): number[] =>
  text
    .split(",")
    .map((d) => Number(d))
    .filter((d) => Number.isInteger(d) && d >= 0 && d <= 6);

/** parseWeekdays for the upload path: every upload needs its job's, a fleet has a handful of distinct settings. */
const weekdaysOf: (text: string) => readonly number[] = memoByString(parseWeekdays, 64);

/**
 * Folds one new run into a job's state. Late reports of older runs count (run count, uploaded total) but do not
 * move "latest" or the schedule. The next expected run comes from Duplicati when the report says when it will run
 * next (newer Duplicati sends Extra["next-scheduled-run"]); otherwise from the job's interval, keeping the time of
 * day when a run is late (reference §5.3).
 */
export function applyRunToJob(
  prev: JobState | undefined,
  run: RunRecord,
  nextScheduledRun: string | null,
  now: string,
): { job: JobState; isLatest: boolean } {
  const base: JobState = prev ?? {
    server_id: run.server_id,
    backup_name: run.backup_name,
    backup_id: run.backup_id,
    run_count: 0,
    uploaded_total: 0,
    first_run_date: null,
    latest_run_id: null,
    latest_date: null,
    latest_status: null,
    latest_size: 0,
    latest_known_file_size: 0,
    latest_backup_list_count: 0,
    latest_examined_files: 0,
    last_success_date: null,
    monitoring_enabled: 1,
    expected_interval: "1D",
    allowed_weekdays: ALL_DAYS,
    next_expected_at: null,
    next_scheduled_run: null,
    updated_at: now,
    runs_success: 0,
    runs_warning: 0,
    runs_error: 0,
    runs_fatal: 0,
    runs_unknown: 0,
  };
  const job: JobState = {
    ...base,
    run_count: Number(base.run_count) + 1,
    uploaded_total: Number(base.uploaded_total) + run.uploaded_size,
    first_run_date: base.first_run_date && base.first_run_date < run.date ? base.first_run_date : run.date,
    updated_at: now,
  };
  // A status outside the known ones counts as Unknown, as recomputeJob does.
  const counter = RUN_COUNTER_COLUMNS[BACKUP_STATUSES.includes(run.status) ? run.status : "Unknown"];
  job[counter] = Number(base[counter]) + 1;
  const succeeded = run.status === "Success" || run.status === "Warning";
  if (succeeded && (!job.last_success_date || run.date > job.last_success_date)) job.last_success_date = run.date;

  const isLatest = !base.latest_date || run.date > base.latest_date;
  if (!isLatest) return { job, isLatest };

  job.backup_id = run.backup_id;
  job.latest_run_id = run.id;
  job.latest_date = run.date;
  job.latest_status = run.status;
  job.latest_size = run.size;
  job.latest_known_file_size = run.known_file_size;
  job.latest_backup_list_count = run.backup_list_count;
  job.latest_examined_files = run.examined_files;
  job.next_scheduled_run = nextScheduledRun;
  job.next_expected_at = nextExpectedFor(job, base.next_expected_at, run.date, nextScheduledRun);
  return { job, isLatest };
}

function nextExpectedFor(
  job: JobState,
  previousNext: string | null,
  latestRun: string,
  nextScheduledRun: string | null,
): string | null {
  if (nextScheduledRun && nextScheduledRun > latestRun) return nextScheduledRun;
  try {
    const next = computeNextExpected({
      latestRun: new Date(latestRun),
      previousNext: previousNext ? new Date(previousNext) : null,
      interval: job.expected_interval,
      allowedWeekDays: weekdaysOf(job.allowed_weekdays),
    });
    return isoString(next.getTime());
  } catch {
    // An invalid interval cannot be evaluated: the job is left out of overdue counts rather than guessed.
    return null;
  }
}
