import type { MigrationInterface, QueryRunner } from "typeorm";

/** PostgreSQL twin of sqlite/1764288600000-AuditStatusIndex.ts. */
export class AuditStatusIndex1764288600000 implements MigrationInterface {
  name = "AuditStatusIndex1764288600000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS idx_audit_status ON audit_log (status)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_audit_status`);
  }
}
