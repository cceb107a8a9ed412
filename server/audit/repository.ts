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

export interface AuditLogRow {
  id: number;
  actor_id: string | null;
  actor_name: string;
  actor_kind: AuditActorKind;
  action: string;
  target_type: string;
  target_id: string | null;
  target_name: string | null;
  changes: Record<string, unknown>;
  ip: string | null;
  created_at: Date;
}

/**
 * The workspace's entries older than `beforeId` (all, without it), newest first: a keyset page on
 * (vendor_id, id), or on (vendor_id, action, id) with an action (migration 014's index).
 */
export async function listAuditEntries(db: Executor, vendorId: string, q: { limit: number; beforeId?: number; action?: string }): Promise<AuditLogRow[]> {
  let query = db
    .selectFrom('audit_log')
    .select(['id', 'actor_id', 'actor_name', 'actor_kind', 'action', 'target_type', 'target_id', 'target_name', 'changes', 'ip', 'created_at'])
    .where('vendor_id', '=', vendorId);
  if (q.action !== undefined) query = query.where('action', '=', q.action);
  if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
  return (await query.orderBy('id', 'desc').limit(q.limit).execute()) as AuditLogRow[];
}
