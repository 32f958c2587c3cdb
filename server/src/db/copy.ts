import { createHash } from "node:crypto";
import type { Database, Queryable } from "./database";
import { foreignKeysSql, identityColumnsSql, listColumnsSql, primaryKeySql, resetIdentitySql } from "./dialect";

/**
 * Row copy between two databases of the same schema (the same migrations applied), whatever their dialects:
 * SQLite → PostgreSQL (npm run migrate:sqlite-to-postgres, a restore on PostgreSQL) and PostgreSQL → SQLite (a
 * backup download on PostgreSQL). Portable SQL only; what differs (introspection, identity columns) comes from
 * dialect.ts. Tables are read in primary-key order in slices (keyset pagination, so a million runs never sit in
 * memory at once) inside one read unit of the source (a consistent snapshot), and written in one transaction of
 * the target: the target ends with all the rows or none.
 */

/** TypeORM's own bookkeeping: each database keeps its record of the migrations it ran. */
const NEVER_COPIED = new Set(["migrations", "typeorm_metadata", "sqlite_sequence"]);
const SLICE = 2_000;

export interface TableShape {
  name: string;
  columns: string[];
  primaryKey: string[];
}

export interface CopyOptions {
  /** Target tables left exactly as they are. */
  keep?: ReadonlySet<string>;
  /** Target tables emptied and not refilled. */
  clear?: ReadonlySet<string>;
  /** Progress: called after each table. */
  onTable?: (table: string, rows: number) => void;
}

export interface CopyOutcome {
  copied: Array<{ table: string; rows: number }>;
  cleared: string[];
  kept: string[];
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

async function tableNames(q: Queryable, db: Database): Promise<string[]> {
  const rows = await q.all<{ name: string }>(db.dialect.listTablesSql);
  return rows.map((r) => r.name).filter((n) => !NEVER_COPIED.has(n) && !n.startsWith("sqlite_"));
}

async function shapeOf(q: Queryable, db: Database, table: string): Promise<TableShape> {
  const columns = (await q.all<{ name: string }>(listColumnsSql(db.dialect.kind), [table])).map((r) => r.name);
  const primaryKey = (await q.all<{ name: string }>(primaryKeySql(db.dialect.kind), [table])).map((r) => r.name);
  return { name: table, columns, primaryKey: primaryKey.length > 0 ? primaryKey : columns };
}

/** Tables parents first (a table after every table its foreign keys point to). */
async function dependencyOrder(q: Queryable, db: Database, tables: readonly string[]): Promise<string[]> {
  const edges = await q.all<{ child: string; parent: string }>(foreignKeysSql(db.dialect.kind));
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const e of edges) if (e.child !== e.parent && parents.has(e.parent)) parents.get(e.child)?.add(e.parent);
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (t: string) => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const p of [...(parents.get(t) ?? [])].sort()) visit(p);
    out.push(t);
  };
  for (const t of [...tables].sort()) visit(t);
  return out;
}

/** Every row of a table, in primary-key order, a slice at a time. */
async function* scan(
  q: Queryable,
  shape: TableShape,
  columns: readonly string[],
): AsyncGenerator<Record<string, unknown>[]> {
  const cols = columns.map(quote).join(", ");
  const key = shape.primaryKey.map(quote);
  const order = key.join(", ");
  let after: unknown[] | null = null;
  for (;;) {
    const where = after === null ? "" : ` WHERE (${key.join(", ")}) > (${key.map(() => "?").join(", ")})`;
    const rows: Record<string, unknown>[] = await q.all<Record<string, unknown>>(
      `SELECT ${cols} FROM ${quote(shape.name)}${where} ORDER BY ${order} LIMIT ${SLICE}`,
      after ?? [],
    );
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < SLICE) return;
    const last = rows[rows.length - 1] as Record<string, unknown>;
    after = shape.primaryKey.map((c) => last[c]);
  }
}

/** The columns of a scan must include the key (keyset pagination reads it from the last row). */
const withKey = (shape: TableShape, columns: readonly string[]): string[] => [
  ...columns,
  ...shape.primaryKey.filter((k) => !columns.includes(k)),
];

/** Multi-row INSERTs, within the parameter limits of both drivers (SQLite: 32766; PostgreSQL: 65535). */
async function insertRows(
  q: Queryable,
  table: string,
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
) {
  const perStatement = Math.max(1, Math.floor(30_000 / Math.max(1, columns.length)));
  const cols = columns.map(quote).join(", ");
  const tuple = `(${columns.map(() => "?").join(", ")})`;
  for (let i = 0; i < rows.length; i += perStatement) {
    const batch = rows.slice(i, i + perStatement);
    const params: unknown[] = [];
    for (const row of batch) for (const c of columns) params.push(row[c] ?? null);
    await q.run(`INSERT INTO ${quote(table)} (${cols}) VALUES ${batch.map(() => tuple).join(", ")}`, params);
  }
}

/**
 * Replaces the rows of `target` with those of `source`: each table both have is emptied and refilled with the
 * columns both have (a target table the source lacks keeps its rows), except `keep` (untouched) and `clear`
 * (emptied only). One read unit on the source, one transaction on the target.
 */
export async function copyDatabase(
  source: Database,
  target: Database,
  options: CopyOptions = {},
): Promise<CopyOutcome> {
  const keep = options.keep ?? new Set<string>();
  const clear = options.clear ?? new Set<string>();
  return source.read(async (sq) => {
    const sourceTables = new Set(await tableNames(sq, source));
    return target.write(async (tq) => {
      const tables = await dependencyOrder(tq, target, await tableNames(tq, target));
      const outcome: CopyOutcome = { copied: [], cleared: [], kept: [] };
      const replaced = tables.filter((t) => !keep.has(t) && (clear.has(t) || sourceTables.has(t)));
      // Children first, so no foreign key is ever left dangling (ON DELETE CASCADE would also empty kept tables).
      for (const table of [...replaced].reverse()) await tq.run(`DELETE FROM ${quote(table)}`);
      for (const table of tables) {
        if (!replaced.includes(table)) {
          outcome.kept.push(table);
          continue;
        }
        if (clear.has(table)) {
          outcome.cleared.push(table);
          continue;
        }
        const targetShape = await shapeOf(tq, target, table);
        const sourceShape = await shapeOf(sq, source, table);
        const columns = targetShape.columns.filter((c) => sourceShape.columns.includes(c));
        let rows = 0;
        for await (const slice of scan(sq, sourceShape, withKey(sourceShape, columns))) {
          await insertRows(tq, table, columns, slice);
          rows += slice.length;
        }
        const identity = identityColumnsSql(target.dialect.kind);
        if (identity) {
          for (const { name } of await tq.all<{ name: string }>(identity, [table])) {
            await tq.get(resetIdentitySql(table, name));
          }
        }
        outcome.copied.push({ table, rows });
        options.onTable?.(table, rows);
      }
      return outcome;
    });
  });
}

// ─── Verification: row counts and checksums ────────────────────────────────────────────────────────────────────

/** One value in a form both drivers agree on (a REAL 3.0 and a DOUBLE 3 are the same number; BIGINT as number). */
function canonical(value: unknown): string {
  if (value === null || value === undefined) return "n";
  if (typeof value === "number") return `d${Number.isFinite(value) ? value : String(value)}`;
  if (typeof value === "bigint") return `d${value.toString()}`;
  if (typeof value === "boolean") return `d${value ? 1 : 0}`;
  if (Buffer.isBuffer(value)) return `b${value.toString("hex")}`;
  return `s${String(value)}`;
}

export interface TableDigest {
  table: string;
  rows: number;
  /**
   * The XOR of every row's SHA-256 (hex): independent of the order rows come in, so two databases whose text
   * collations differ (PostgreSQL's locale vs SQLite's byte order) still agree when their rows do.
   */
  checksum: string;
}

/**
 * Row count and checksum of each given table (all user tables when none are given), over the columns listed (or
 * all of them), read in one consistent unit. `rowDigests` receives each row's key and digest (e.g. every run's).
 */
export async function digestTables(
  db: Database,
  options: {
    tables?: readonly string[];
    columns?: (table: string) => readonly string[] | undefined;
    rowDigests?: (table: string, key: string, digest: string) => void;
  } = {},
): Promise<TableDigest[]> {
  return db.read(async (q) => {
    const tables = options.tables ?? (await tableNames(q, db)).sort();
    const out: TableDigest[] = [];
    for (const table of tables) {
      const shape = await shapeOf(q, db, table);
      const columns = options.columns?.(table) ?? shape.columns;
      const sum = Buffer.alloc(32);
      let rows = 0;
      for await (const slice of scan(q, shape, withKey(shape, columns))) {
        for (const row of slice) {
          const digest = createHash("sha256")
            .update(columns.map((c) => canonical(row[c])).join("\u0000"))
            .digest();
          for (let i = 0; i < 32; i++) sum[i] = (sum[i] as number) ^ (digest[i] as number);
          options.rowDigests?.(table, shape.primaryKey.map((k) => String(row[k])).join("/"), digest.toString("hex"));
          rows++;
        }
      }
      out.push({ table, rows, checksum: sum.toString("hex") });
    }
    return out;
  });
}

/** The user tables of a database (what copyDatabase copies). */
export function userTables(db: Database): Promise<string[]> {
  return db.read((q) => tableNames(q, db));
}

/** Columns of a table. */
export function tableColumns(db: Database, table: string): Promise<string[]> {
  return db.read(async (q) => (await shapeOf(q, db, table)).columns);
}
