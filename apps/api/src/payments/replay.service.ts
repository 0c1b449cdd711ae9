import { lockDeadEventsSince, lockEvent, recordAdminAction, requeueEvents } from '@settle/db';
import { planReplay } from '@settle/payments-core';
import type { AppDeps } from '../app-deps.js';

export type ReplayCounts = { requested: number; requeued: number; alreadyQueued: number };

/** The most dead letters one bulk replay takes; a larger backlog is replayed in several calls. */
export const BULK_REPLAY_LIMIT = 10_000;

/**
 * Replay one event: back in the queue with a fresh schedule, audited with the admin and reason,
 * then processed at once. Safe for any event (processing is idempotent).
 */
export async function replayEvent(deps: AppDeps, eventId: string, actor: string, reason: string): Promise<ReplayCounts | null> {
  const result = await deps.database.db.transaction().execute(async (trx) => {
    const ev = await lockEvent(trx, eventId);
    if (!ev) return null;
    const plan = planReplay(ev.state);
    if (plan === 'requeue') await requeueEvents(trx, [eventId]);
    await recordAdminAction(trx, { actor, action: 'events.replay', target: `event:${eventId}`, reason, details: { previousState: ev.state, plan } });
    return { requested: 1, requeued: plan === 'requeue' ? 1 : 0, alreadyQueued: plan === 'already_queued' ? 1 : 0 };
  });
  if (result) deps.processNow(eventId);
  return result;
}

/** Replay every dead event received since `since` (up to `BULK_REPLAY_LIMIT`), as one audited action. */
export async function replayDeadSince(deps: AppDeps, since: Date, actor: string, reason: string): Promise<ReplayCounts & { eventIds: string[] }> {
  const ids = await deps.database.db.transaction().execute(async (trx) => {
    const dead = await lockDeadEventsSince(trx, since, BULK_REPLAY_LIMIT);
    await requeueEvents(trx, dead);
    await recordAdminAction(trx, {
      actor,
      action: 'events.replay_dead',
      target: null,
      reason,
      details: { since: since.toISOString(), count: dead.length, eventIds: dead.slice(0, 1000) },
    });
    return dead;
  });
  // Workers pick them up; nudge the first few so small replays finish at once.
  for (const id of ids.slice(0, 100)) deps.processNow(id);
  return { requested: ids.length, requeued: ids.length, alreadyQueued: 0, eventIds: ids };
}
