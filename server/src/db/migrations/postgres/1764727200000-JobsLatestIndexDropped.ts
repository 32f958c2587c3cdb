/**
 * PostgreSQL twin of sqlite/1764727200000-JobsLatestIndexDropped.ts: the same portable statements (DROP / CREATE
 * INDEX IF [NOT] EXISTS), so the very class serves both lists; the per-server reads use the primary key here too.
 */
export { JobsLatestIndexDropped1764727200000 } from "../sqlite/1764727200000-JobsLatestIndexDropped";
