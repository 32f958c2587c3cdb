import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The audit log's status column is a filter of GET /api/audit-log and a menu of /api/audit-log/filters, which
 * lists the distinct values by hopping through an index; the original has this index too (idx_audit_status).
 */
export class AuditStatusIndex1764288600000 implements MigrationInterface {
  name = "AuditStatusIndex1764288600000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS idx_audit_status ON audit_log (status)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_audit_status`);
  }
}
