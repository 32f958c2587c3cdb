// An example duplistatus user plugin: writes every backup run it hears of as one line of JSON (JSON Lines) to a
// file in its data folder (DATA_DIR/plugin-data/jsonl-runs/). Copy this file into DATA_DIR/plugins/ (or PLUGINS_DIR)
// and restart duplistatus, or call POST /api/plugins/rescan. See docs/plugins.md.
import { appendFile } from "node:fs/promises";
import path from "node:path";

const STATUSES = ["Success", "Unknown", "Warning", "Error", "Fatal"];

/** @type {import("../../server/src/plugins/api").PluginDefinition<{ file: string; statuses: string[]; onlyLatest: boolean }>} */
export default {
  name: "jsonl-runs",
  version: "1.0.0",
  description: "Writes each backup run as a line of JSON to a file",
  // A JSON Schema: checked when an admin saves the configuration (PUT /api/plugins/jsonl-runs/config) and at start;
  // the defaults fill what is not given.
  configSchema: {
    type: "object",
    properties: {
      file: { type: "string", pattern: "^[A-Za-z0-9._-]+$", default: "runs.jsonl" },
      statuses: { type: "array", items: { enum: STATUSES }, default: STATUSES },
      onlyLatest: { type: "boolean", default: false },
    },
    additionalProperties: false,
  },

  start(ctx) {
    const file = path.join(ctx.dataDir, ctx.config.file);

    ctx.on("backupReceived", async (e) => {
      if (!ctx.config.statuses.includes(e.run.status)) return;
      // isLatest is false for an old report sent again late.
      if (ctx.config.onlyLatest && !e.isLatest) return;
      const line = {
        receivedAt: ctx.clock.now().toISOString(),
        serverId: e.server.id,
        server: e.server.name,
        backup: e.job.backupName,
        status: e.run.status,
        date: e.run.date,
        durationSeconds: e.run.duration_seconds,
        uploadedBytes: e.run.uploaded_size,
        sizeBytes: e.run.size,
        warnings: e.run.warnings,
        errors: e.run.errors,
        latest: e.isLatest,
      };
      // If this throws (disk full…), the host logs it and marks the plugin "degraded"; the upload is not affected.
      await appendFile(file, `${JSON.stringify(line)}\n`, "utf8");
    });

    ctx.log.info({ file }, "writing backup runs as JSON lines");
  },

  stop() {
    // Nothing to close: every line is appended with its own write. Subscriptions are dropped by the host.
  },
};
