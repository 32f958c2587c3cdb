import { JobLatestExaminedFiles1764813600000 as SqliteJobLatestExaminedFiles } from "../sqlite/1764813600000-JobLatestExaminedFiles";

/**
 * PostgreSQL twin of sqlite/1764813600000-JobLatestExaminedFiles.ts: the same statements, with BIGINT as the other
 * counters of `jobs` and `backups.examined_files` have here.
 */
export class JobLatestExaminedFiles1764813600000 extends SqliteJobLatestExaminedFiles {
  protected override get integerType(): string {
    return "BIGINT";
  }
}
