import { parseWeekdays } from "../core/job-state";
import type { JobMonitoringRow } from "./settings-store";

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** RFC 4180 field; a leading = + - @ is neutralised so spreadsheets do not run it as a formula. */
function field(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const weekdayOf = (iso: string | null): string => (iso ? (WEEKDAYS[new Date(iso).getUTCDay()] ?? "") : "");

/** The monitoring state as the original's backup-monitoring CSV (reference §8.1). */
export function monitoringCsv(rows: readonly JobMonitoringRow[], now: Date, toleranceMinutes: number): string {
  const header = [
    "CSV Generated At",
    "Server Name",
    "Server ID",
    "Backup Name",
    "Last Backup (cfg)",
    "Last Backup (cfg) Weekday",
    "Last Backup (DB)",
    "Next Run",
    "Next Run Weekday",
    "Needs Attention",
    "Monitoring Enabled",
    "Expected Interval",
    "Allowed Weekdays",
  ];
  const generated = now.toISOString();
  const lines = rows.map((r) => {
    const needsAttention =
      r.next_expected_at !== null && Date.parse(r.next_expected_at) + toleranceMinutes * 60_000 < now.getTime();
    return [
      generated,
      r.server_name,
      r.server_id,
      r.backup_name,
      r.latest_date ?? "",
      weekdayOf(r.latest_date),
      r.latest_date ?? "",
      r.next_expected_at ?? "",
      weekdayOf(r.next_expected_at),
      needsAttention ? "Yes" : "No",
      Number(r.monitoring_enabled) === 1 ? "Yes" : "No",
      r.expected_interval,
      parseWeekdays(r.allowed_weekdays)
        .map((d) => WEEKDAYS[d])
        .join("; "),
    ]
      .map((v) => field(String(v)))
      .join(",");
  });
  return [header.join(","), ...lines].join("\r\n") + "\r\n";
}
