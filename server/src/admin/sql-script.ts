/**
 * Reading an SQL dump for a restore. The dump is split into single statements here and each one is judged before
 * it runs: a restore only needs to create tables and indexes and insert rows, so everything else is skipped
 * (transaction control, PRAGMAs) or refused (ATTACH, VACUUM INTO… could write files outside the scratch database).
 */

/**
 * Splits a script at top-level semicolons. Quoted text ('…' with '' escapes, "…", `…`, […]) is kept intact;
 * comments (-- … and /* … *\/) are replaced by a space. Yields trimmed, non-empty statements without the ';'.
 */
export function* splitSqlStatements(script: string): Generator<string> {
  let parts: string[] = [];
  let segmentStart = 0;
  let i = 0;
  const n = script.length;
  const closeQuote: Record<string, string> = { "'": "'", '"': '"', "`": "`", "[": "]" };
  while (i < n) {
    const ch = script[i] as string;
    const close = closeQuote[ch];
    if (close !== undefined) {
      // Inside quotes a doubled closing character is an escaped one (not for […]), so scanning on past it is right.
      const end = script.indexOf(close, i + 1);
      i = end === -1 ? n : end + 1;
    } else if (ch === "-" && script[i + 1] === "-") {
      parts.push(script.slice(segmentStart, i), " ");
      const end = script.indexOf("\n", i + 2);
      i = end === -1 ? n : end + 1;
      segmentStart = i;
    } else if (ch === "/" && script[i + 1] === "*") {
      parts.push(script.slice(segmentStart, i), " ");
      const end = script.indexOf("*/", i + 2);
      i = end === -1 ? n : end + 2;
      segmentStart = i;
    } else if (ch === ";") {
      parts.push(script.slice(segmentStart, i));
      const statement = parts.join("").trim();
      if (statement) yield statement;
      parts = [];
      i++;
      segmentStart = i;
    } else {
      i++;
    }
  }
  parts.push(script.slice(segmentStart));
  const last = parts.join("").trim();
  if (last) yield last;
}

export type StatementVerdict = "run" | "skip" | "refuse";

/** What a restore does with one statement of a dump. */
export function judgeStatement(statement: string): StatementVerdict {
  const words = statement
    .slice(0, 64)
    .toUpperCase()
    .split(/[\s(]+/);
  const [first = "", second = "", third = ""] = words;
  if (["BEGIN", "COMMIT", "END", "PRAGMA", "ANALYZE"].includes(first)) return "skip";
  if (first === "INSERT" || first === "REPLACE" || first === "DELETE") return "run";
  if (first === "CREATE") {
    if (second === "TABLE" || second === "INDEX" || second === "VIEW") return "run";
    if (second === "UNIQUE" && third === "INDEX") return "run";
  }
  return "refuse";
}

/** The first words of a statement, for messages. */
export const statementHead = (statement: string): string => {
  const head = statement.replace(/\s+/g, " ").slice(0, 60);
  return head.length < statement.length ? `${head}…` : head;
};
