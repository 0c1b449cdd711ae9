import { lockDeadDeliveriesSince, lockDelivery, recordAdminAction, requeueDeliveries } from '@settle/db';
import type { AppDeps } from '../app-deps.js';

/** The most dead deliveries one bulk replay takes; a larger backlog is replayed in several calls. */
export const BULK_DELIVERY_REPLAY_LIMIT = 10_000;

export type DeliveryReplay = { requested: number; requeued: number; alreadyPending: number; replayedAt: string };

/**
 * Send one delivery again from the start of the schedule, audited with the admin and reason. Any
 * state may be replayed (a delivered one is sent again: the host drops it by `webhook-id` or
 * sequence if it already has it); a pending one is left alone.
 */
export async function replayDelivery(deps: AppDeps, deliveryId: string, actor: string, reason: string): Promise<DeliveryReplay | null> {
  const result = await deps.database.db.transaction().execute(async (trx) => {
    const d = await lockDelivery(trx, deliveryId);
    if (!d) return null;
    const pending = d.state === 'pending';
    const replayedAt = pending ? new Date() : await requeueDeliveries(trx, [deliveryId]);
    await recordAdminAction(trx, {
      actor,
      action: 'deliveries.replay',
      target: `delivery:${deliveryId}`,
      reason,
      details: { previousState: d.state, userId: d.user_id, type: d.type, sequence: Number(d.sequence) },
    });
    return { requested: 1, requeued: pending ? 0 : 1, alreadyPending: pending ? 1 : 0, replayedAt: replayedAt.toISOString() };
  });
  if (result?.requeued) deps.hostWebhooks?.wake();
  return result;
}

/** Replay every delivery that went dead since `since` (up to the bulk limit), as one audited action. */
export async function replayDeadDeliveriesSince(deps: AppDeps, since: Date, actor: string, reason: string): Promise<DeliveryReplay> {
  const result = await deps.database.db.transaction().execute(async (trx) => {
    const dead = await lockDeadDeliveriesSince(trx, since, BULK_DELIVERY_REPLAY_LIMIT);
    const replayedAt = await requeueDeliveries(trx, dead);
    await recordAdminAction(trx, {
      actor,
      action: 'deliveries.replay_dead',
      target: null,
      reason,
      details: { since: since.toISOString(), count: dead.length, deliveryIds: dead.slice(0, 1000) },
    });
    return { requested: dead.length, requeued: dead.length, alreadyPending: 0, replayedAt: replayedAt.toISOString() };
  });
  if (result.requeued) deps.hostWebhooks?.wake();
  return result;
}
