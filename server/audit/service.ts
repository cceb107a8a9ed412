// The audit trail: every vendor-side change, written in the transaction of the
// change itself, with who made it (a member, or an API key), when, from which
// address, and what changed. Call recordAudit with the transaction's executor
// and actorOf(req).
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../lib/clock.js';
import type { Executor } from '../db/index.js';
import type { AuditActorKind } from '../db/schema.js';
import { sessionOf } from '../auth/session.js';
import * as repo from './repository.js';

/** Who made a change, as the trail records it. */
export interface Actor {
  vendorId: string;
  /** The member's id, or the API key's. */
  id: string | null;
  /** The member's name, or the key's ("API key “CRM sync”"), as it was at the time. */
  name: string;
  kind: AuditActorKind;
  ip: string | null;
}

/** The actor of a request that passed the session or API key check. */
export function actorOf(req: FastifyRequest): Actor {
  const s = sessionOf(req);
  return s.via === 'api_key'
    ? { vendorId: s.vendorId, id: s.apiKeyId ?? null, name: `API key “${s.userName}”`, kind: 'api_key', ip: req.ip }
    : { vendorId: s.vendorId, id: s.userId, name: s.userName, kind: 'user', ip: req.ip };
}

/** What one entry says: the action ("member.invited"), its target, and what changed (before/after or the values set). */
export interface AuditEntry {
  action: string;
  target: { type: string; id?: string | null; name?: string | null };
  changes?: Record<string, unknown>;
}

/** Appends entries to the workspace's trail, in the caller's transaction. */
export async function recordAudit(trx: Executor, clock: Clock, actor: Actor, ...entries: AuditEntry[]): Promise<void> {
  const createdAt = clock.now();
  await repo.insertAuditEntries(
    trx,
    entries.map((e) => ({
      vendorId: actor.vendorId,
      actorId: actor.id,
      actorName: actor.name,
      actorKind: actor.kind,
      action: e.action,
      targetType: e.target.type,
      targetId: e.target.id ?? null,
      targetName: e.target.name ?? null,
      changes: e.changes ?? {},
      ip: actor.ip,
      createdAt,
    })),
  );
}
