// SQL for the audit trail. Rows are only ever inserted: the database refuses
// UPDATE, DELETE and TRUNCATE on audit_log (migration 013).
import type { Executor } from '../db/index.js';
import type { AuditActorKind } from '../db/schema.js';

export interface AuditRow {
  vendorId: string;
  actorId: string | null;
  actorName: string;
  actorKind: AuditActorKind;
  action: string;
  targetType: string;
  targetId: string | null;
  targetName: string | null;
  changes: Record<string, unknown>;
  ip: string | null;
  createdAt: Date;
}

export async function insertAuditEntries(db: Executor, rows: readonly AuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('audit_log')
    .values(
      rows.map((r) => ({
        vendor_id: r.vendorId,
        actor_id: r.actorId,
        actor_name: r.actorName,
        actor_kind: r.actorKind,
        action: r.action,
        target_type: r.targetType,
        target_id: r.targetId,
        target_name: r.targetName,
        changes: JSON.stringify(r.changes),
        ip: r.ip,
        created_at: r.createdAt,
      })),
    )
    .execute();
}
