import type { AuditLogView } from "./audit-log-service";

/** The CSV layout of the original's audit export (reference §2.8). */
export const CSV_HEADER = [
  "ID",
  "Timestamp",
  "User ID",
  "Username",
  "Action",
  "Category",
  "Target Type",
  "Target ID",
  "Status",
  "IP Address",
  "User Agent",
  "Details",
  "Error Message",
] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break, quotes doubled. A field that a
 * spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe: usernames and user
 * agents in the audit log come from anyone who tries to log in, and an export must not execute them (OWASP CSV
 * injection).
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function auditCsv(logs: readonly AuditLogView[]): string {
  const lines = [CSV_HEADER.join(",")];
  for (const l of logs) {
    lines.push(
      [
        String(l.id),
        l.timestamp,
        l.userId ?? "",
        l.username ?? "",
        l.action,
        l.category,
        l.targetType ?? "",
        l.targetId ?? "",
        l.status,
        l.ipAddress ?? "",
        l.userAgent ?? "",
        l.details ? JSON.stringify(l.details) : "",
        l.errorMessage ?? "",
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}
