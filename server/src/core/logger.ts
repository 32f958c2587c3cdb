import pino from "pino";

export type Logger = pino.Logger;

/** The streams of each logger made here: stdout, plus a log file once one is attached (attachLogFile). */
const outputs = new WeakMap<Logger, pino.MultiStreamRes>();

/**
 * Structured JSON logs on stdout. Secrets are redacted by key name wherever they appear in a log object. The logger
 * writes through a multistream so that a log file can be added once the configuration is known (LOG_FILE).
 */
export function createLogger(level: string): Logger {
  const streams: pino.MultiStreamRes = pino.multistream([{ level: "trace" as const, stream: pino.destination(1) }]);
  const log = pino(
    {
      level,
      base: { app: "duplistatus" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          "password",
          "*.password",
          "token",
          "*.token",
          "authorization",
          "*.authorization",
          "req.headers.authorization",
          "req.headers.cookie",
        ],
        censor: "[redacted]",
      },
    },
    streams,
  );
  outputs.set(log, streams);
  return log;
}

/**
 * Also writes the logger's lines to `file` (appended, synchronously, folders created). Returns the function that
 * detaches and closes it, or null for a logger not made by createLogger.
 */
export function attachLogFile(log: Logger, file: string): (() => void) | null {
  const streams = outputs.get(log);
  if (!streams) return null;
  const dest = pino.destination({ dest: file, mkdir: true, append: true, sync: true });
  streams.add({ level: "trace", stream: dest });
  const entry = streams.streams.find((s) => s.stream === dest) as { id?: number } | undefined;
  return () => {
    if (entry?.id !== undefined) streams.remove(entry.id);
    dest.end();
  };
}
