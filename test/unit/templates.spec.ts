import { expect } from "chai";
import {
  DEFAULT_TEMPLATES_EN,
  LOG_TEXT_MAX_LINES,
  type RunFields,
  type ServerDetails,
  clearedVariables,
  defaultTemplates,
  formatBytes,
  formatDateTime,
  formatDuration,
  formatInteger,
  formatLocale,
  formatRelative,
  logText,
  mergeTemplate,
  overdueVariables,
  parseTemplateSettings,
  renderNotification,
  renderTemplate,
  runVariables,
  sampleVariables,
  serverVariables,
} from "../../server/src/notifications/templates";

const SERVER: ServerDetails = { id: "sid", name: "WSJ-SER5", alias: "", note: "Living room", url: "http://nas:8200" };
const EN = { language: "en-GB", timeZone: "UTC" };

function run(overrides: Partial<RunFields> = {}): RunFields {
  return {
    backup_name: "Local files",
    status: "Success",
    date: "2025-04-21T23:45:46.971Z",
    duration_seconds: 2311.6018052,
    examined_files: 15399,
    size: 11086692615,
    uploaded_size: 8290314,
    known_file_size: 9920312634,
    backup_list_count: 6,
    messages_actual_length: 1234,
    warnings: 0,
    errors: 0,
    warnings_array: null,
    errors_array: null,
    messages_array: JSON.stringify(["first message", "second message"]),
    ...overrides,
  };
}

describe("notification templates: rendering", () => {
  it("replaces {name} placeholders with the variables", () => {
    expect(renderTemplate("{a} and {b_2} and {a}", { a: "x", b_2: 3 })).to.equal("x and 3 and x");
  });

  it("renders unknown, null and undefined variables as empty text (string-template semantics)", () => {
    expect(renderTemplate("[{missing}][{n}][{u}]", { n: null, u: undefined })).to.equal("[][][]");
    expect(renderTemplate("{constructor}{toString}{__proto__}", {})).to.equal("");
  });

  it("treats {{name}} as an escape for a literal {name}", () => {
    expect(renderTemplate("{{a}} is {a}", { a: "x" })).to.equal("{a} is x");
    expect(renderTemplate("{{unknown}}", {})).to.equal("{unknown}");
  });

  it("leaves what is not a placeholder alone", () => {
    expect(renderTemplate("{ a } {a-b} {} {é} }{ {", { a: "x" })).to.equal("{ a } {a-b} {} {é} }{ {");
    expect(renderTemplate("price: {a}$", { a: "$&$1" })).to.equal("price: $&$1$");
  });

  it("can keep placeholders that have no variable (for the test send)", () => {
    expect(renderTemplate("{a} {b} {{c}}", { a: "x" }, { keepUnknown: true })).to.equal("x {b} {c}");
  });

  it("renders title and message and passes priority and tags through", () => {
    const r = renderNotification(
      "success",
      { title: "T {a}", message: "M {a}", priority: "high", tags: "x, y" },
      { a: "1" },
    );
    expect(r).to.deep.equal({ kind: "success", title: "T 1", message: "M 1", priority: "high", tags: "x, y" });
  });
});

describe("notification templates: formatting", () => {
  it("durations: 38m 31s, 1h 2m 3s, 51s", () => {
    expect(formatDuration(2311.6018052)).to.equal("38m 31s");
    expect(formatDuration(3723)).to.equal("1h 2m 3s");
    expect(formatDuration(51.38)).to.equal("51s");
    expect(formatDuration(0)).to.equal("0s");
    expect(formatDuration(3600)).to.equal("1h 0m 0s");
    expect(formatDuration(93784.5)).to.equal("26h 3m 4s");
    expect(formatDuration(Number.NaN)).to.equal("0s");
  });

  it("sizes: 1024-based, at most 2 decimals, locale digits", () => {
    expect(formatBytes(0)).to.equal("0 Bytes");
    expect(formatBytes(512)).to.equal("512 Bytes");
    expect(formatBytes(1023)).to.equal("1,023 Bytes");
    expect(formatBytes(1024)).to.equal("1 KB");
    expect(formatBytes(1536)).to.equal("1.5 KB");
    expect(formatBytes(8290314)).to.equal("7.91 MB");
    expect(formatBytes(11086692615)).to.equal("10.33 GB");
    expect(formatBytes(5 * 1024 ** 4)).to.equal("5 TB");
    expect(formatBytes(1536, "de")).to.equal("1,5 KB");
    expect(formatBytes(-5)).to.equal("0 Bytes");
  });

  it('formats "en" templates the British way, like their default texts', () => {
    expect(formatLocale("en")).to.equal("en-GB");
    expect(formatLocale("de")).to.equal("de");
    expect(formatDateTime("2025-06-14T01:00:00.000Z", formatLocale("en"), "UTC")).to.equal("14/06/2025, 01:00");
  });

  it("integers in the language's digits", () => {
    expect(formatInteger(15399)).to.equal("15,399");
    expect(formatInteger(15399, "de")).to.equal("15.399");
    expect(formatInteger(6)).to.equal("6");
  });

  it("dates: short date and time in the language and time zone", () => {
    expect(formatDateTime("2025-06-14T01:00:00.000Z", "en-GB", "UTC")).to.equal("14/06/2025, 01:00");
    expect(formatDateTime("2025-06-14T01:00:00.000Z", "en-GB", "Europe/London")).to.equal("14/06/2025, 02:00");
    expect(formatDateTime(null, "en-GB", "UTC")).to.equal("");
    expect(formatDateTime("not a date", "en-GB", "UTC")).to.equal("not a date");
  });

  it("relative English times: past and future, largest whole unit", () => {
    const now = new Date("2026-01-10T12:00:00.000Z");
    expect(formatRelative("2026-01-08T12:00:00.000Z", now)).to.equal("2 days ago");
    expect(formatRelative("2026-01-10T15:00:00.000Z", now)).to.equal("in 3 hours");
    expect(formatRelative("2026-01-10T10:30:00.000Z", now)).to.equal("1 hour ago");
    expect(formatRelative("2026-01-10T11:59:15.000Z", now)).to.equal("45 seconds ago");
    expect(formatRelative("2026-01-10T11:59:58.000Z", now)).to.equal("now");
    expect(formatRelative("2026-01-10T11:55:00.000Z", now)).to.equal("5 minutes ago");
    expect(formatRelative("2025-12-20T12:00:00.000Z", now)).to.equal("3 weeks ago");
    expect(formatRelative("2025-10-10T12:00:00.000Z", now)).to.equal("3 months ago");
    expect(formatRelative("2024-01-01T12:00:00.000Z", now)).to.equal("2 years ago");
    expect(formatRelative(null, now)).to.equal("");
  });
});

describe("notification templates: log_text", () => {
  it("joins warnings and errors, one per line", () => {
    expect(
      logText(run({ warnings_array: JSON.stringify(["w1", "w2"]), errors_array: JSON.stringify(["e1"]) })),
    ).to.equal("w1\nw2\ne1");
  });

  it("falls back to all messages when there are no warnings or errors, and splits multi-line entries", () => {
    expect(logText(run())).to.equal("first message\nsecond message");
    expect(logText(run({ messages_array: JSON.stringify(["a\nb", "", { message: "c" }]) }))).to.equal("a\nb\nc");
    expect(logText(run({ messages_array: null }))).to.equal("");
  });

  it(`keeps the last ${LOG_TEXT_MAX_LINES} lines, saying how many were left out, and cuts very long lines`, () => {
    const lines = Array.from({ length: 120 }, (_, i) => `line ${i + 1}`);
    const text = logText(run({ messages_array: JSON.stringify(lines) })).split("\n");
    expect(text).to.have.length(LOG_TEXT_MAX_LINES + 1);
    expect(text[0]).to.equal("(70 earlier lines omitted)");
    expect(text[1]).to.equal("line 71");
    expect(text.at(-1)).to.equal("line 120");
    const long = logText(run({ warnings_array: JSON.stringify(["x".repeat(2000)]) }));
    expect(long).to.have.length(500);
    expect(long.endsWith("…")).to.equal(true);
  });
});

describe("notification templates: variables", () => {
  it("server_alias is '<alias> (<name>)' with an alias, else the name", () => {
    expect(serverVariables(SERVER).server_alias).to.equal("WSJ-SER5");
    expect(serverVariables({ ...SERVER, alias: "Home NAS" }).server_alias).to.equal("Home NAS (WSJ-SER5)");
    expect(serverVariables({ ...SERVER, alias: "  " }).server_alias).to.equal("WSJ-SER5");
  });

  it("run variables (success / warning templates)", () => {
    expect(runVariables(SERVER, run(), EN)).to.deep.equal({
      server_id: "sid",
      server_name: "WSJ-SER5",
      server_alias: "WSJ-SER5",
      server_note: "Living room",
      server_url: "http://nas:8200",
      backup_name: "Local files",
      status: "Success",
      backup_date: "21/04/2025, 23:45",
      duration: "38m 31s",
      file_count: "15,399",
      file_size: "10.33 GB",
      uploaded_size: "7.91 MB",
      storage_size: "9.24 GB",
      available_versions: "6",
      messages_count: "1,234",
      warnings_count: "0",
      errors_count: "0",
      log_text: "first message\nsecond message",
    });
  });

  it("overdue variables", () => {
    const now = new Date("2026-01-10T15:00:00.000Z");
    const vars = overdueVariables(
      SERVER,
      {
        backupName: "Files",
        lastRunDate: "2026-01-10T11:00:00.000Z",
        expectedAt: "2026-01-10T12:00:00.000Z",
        interval: "1h",
        toleranceLabel: "2 hours",
      },
      now,
      EN,
    );
    expect(vars).to.include({
      backup_name: "Files",
      last_backup_date: "10/01/2026, 11:00",
      last_elapsed: "4 hours ago",
      expected_date: "10/01/2026, 12:00",
      expected_elapsed: "3 hours ago",
      backup_interval: "1h",
      backup_interval_value: "1h",
      backup_interval_type: "",
      overdue_tolerance: "2 hours",
    });
  });

  it("overdueCleared variables, with the run that ended the episode or the job's latest run", () => {
    const now = new Date("2026-01-10T16:00:00.000Z");
    const base = { backupName: "Files", overdueSince: "2026-01-10T15:00:00.000Z", interval: "1h" };
    const withRun = clearedVariables(
      SERVER,
      {
        ...base,
        run: run({ backup_name: "Files", date: "2026-01-10T15:55:00.000Z" }),
        latestRunDate: null,
        latestStatus: null,
      },
      now,
      EN,
    );
    expect(withRun).to.include({
      overdue_since: "10/01/2026, 15:00",
      overdue_elapsed: "1 hour ago",
      backup_date: "10/01/2026, 15:55",
      status: "Success",
      duration: "38m 31s",
      backup_interval: "1h",
    });
    const without = clearedVariables(
      SERVER,
      { ...base, run: null, latestRunDate: "2026-01-10T11:00:00.000Z", latestStatus: "Warning" },
      now,
      EN,
    );
    expect(without).to.include({
      backup_date: "10/01/2026, 11:00",
      status: "Warning",
      overdue_since: "10/01/2026, 15:00",
    });
  });

  it("sample variables carry their own names (test send)", () => {
    const s = sampleVariables();
    expect(s.server_name).to.equal("server_name");
    expect(s.uploaded_size).to.equal("uploaded_size");
    expect(String(s.log_text).split("\n")).to.have.length(3);
    expect(s).not.to.have.property("last_elapsed");
  });
});

describe("notification templates: defaults and stored settings", () => {
  it("has the titles, priorities and tags of §6.3, and the new overdueCleared template", () => {
    expect(DEFAULT_TEMPLATES_EN.success).to.include({
      title: "✅ {status} - {backup_name} @ {server_alias}",
      priority: "default",
      tags: "duplicati, duplistatus, success",
    });
    expect(DEFAULT_TEMPLATES_EN.warning).to.include({
      title: "⚠️ {status} - {backup_name} @ {server_alias}",
      priority: "high",
      tags: "duplicati, duplistatus, warning, error",
    });
    expect(DEFAULT_TEMPLATES_EN.overdueBackup).to.include({
      title: "🕑 Overdue - {backup_name} @ {server_alias}",
      priority: "default",
      tags: "duplicati, duplistatus, overdue",
    });
    expect(DEFAULT_TEMPLATES_EN.overdueCleared.title).to.equal("✅ Back on schedule - {backup_name} @ {server_alias}");
    for (const v of ["{overdue_since}", "{backup_date}"])
      expect(DEFAULT_TEMPLATES_EN.overdueCleared.message).to.include(v);
    for (const v of ["{warnings_count}", "{errors_count}", "{log_text}", "{server_url}", "{duration}"]) {
      expect(DEFAULT_TEMPLATES_EN.warning.message).to.include(v);
    }
    for (const v of [
      "{last_backup_date}",
      "{last_elapsed}",
      "{expected_date}",
      "{backup_interval}",
      "{overdue_tolerance}",
    ]) {
      expect(DEFAULT_TEMPLATES_EN.overdueBackup.message).to.include(v);
    }
  });

  it("renders the default success template", () => {
    const r = renderNotification(
      "success",
      DEFAULT_TEMPLATES_EN.success,
      runVariables({ ...SERVER, alias: "NAS" }, run(), EN),
    );
    expect(r.title).to.equal("✅ Success - Local files @ NAS (WSJ-SER5)");
    expect(r.message.split("\n")[0]).to.equal(
      "The backup Local files on NAS (WSJ-SER5) finished with status Success on 21/04/2025, 23:45, after 38m 31s.",
    );
    expect(r.message).not.to.match(/\{[a-z_]+\}/);
  });

  it("hands out copies of the defaults", () => {
    const d = defaultTemplates("en");
    d.success.title = "changed";
    expect(DEFAULT_TEMPLATES_EN.success.title).not.to.equal("changed");
  });

  it("reads stored settings leniently: the original's shape (no overdueCleared), partial templates, junk", () => {
    const upstream = JSON.stringify({
      language: "en-GB",
      success: { title: "S", message: "M", priority: "low", tags: "t" },
      warning: { title: "W" },
      overdueBackup: "not an object",
    });
    const s = parseTemplateSettings(upstream);
    expect(s.language).to.equal("en-GB");
    expect(s.success).to.deep.equal({ title: "S", message: "M", priority: "low", tags: "t" });
    expect(s.warning).to.deep.equal({ ...DEFAULT_TEMPLATES_EN.warning, title: "W" });
    expect(s.overdueBackup).to.deep.equal(DEFAULT_TEMPLATES_EN.overdueBackup);
    expect(s.overdueCleared).to.deep.equal(DEFAULT_TEMPLATES_EN.overdueCleared);
    expect(parseTemplateSettings("{not json").success).to.deep.equal(DEFAULT_TEMPLATES_EN.success);
    expect(parseTemplateSettings(JSON.stringify({ language: "xx" })).language).to.equal("en-GB");
    expect(parseTemplateSettings(null).language).to.equal("en-GB");
  });

  it("merges a template field by field", () => {
    expect(mergeTemplate(DEFAULT_TEMPLATES_EN.success, { priority: "max", title: 5 })).to.deep.equal({
      ...DEFAULT_TEMPLATES_EN.success,
      priority: "max",
    });
  });
});
