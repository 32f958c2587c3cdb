import pino from "pino";

export type Logger = pino.Logger;

/** Structured JSON logs on stdout. Secrets are redacted by key name wherever they appear in a log object. */
export function createLogger(level: string): Logger {
  return pino({
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
  });
}
