import { bringDeliveriesForward, lockDeadDeliveriesSince, lockDelivery, recordAdminAction, requeueDeliveries } from '@settle/db';
import type { AppDeps } from '../app-deps.js';

/** The most dead deliveries one bulk replay takes; a larger backlog is replayed in several calls. */
export const BULK_DELIVERY_REPLAY_LIMIT = 10_000;

/**
 * `requeued`: sent again from the start of the retry schedule (dead or delivered ones).
 * `alreadyPending`: asked for a delivery still pending; `dueNow` of those, with the older pending
 * ones of its user it waits behind, were waiting for a retry and are now due at once.
 */
export type DeliveryReplay = { requested: number; requeued: number; alreadyPending: number; dueNow: number; replayedAt: string };

/**
 * Send one delivery again, audited with the admin and reason. A dead or delivered one starts the
 * retry schedule over (a delivered one is sent again: the host drops it by `webhook-id` or
 * sequence if it already has it). A pending one waiting for its next retry (after a host outage,
 * possibly hours away) is sent at the next chance, keeping its attempt count, together with the
 * older pending messages of its user that it has to follow.
 */
export async function replayDelivery(deps: AppDeps, deliveryId: string, actor: string, reason: string): Promise<DeliveryReplay | null> {
  const result = await deps.database.db.transaction().execute(async (trx) => {
    const d = await lockDelivery(trx, deliveryId);
    if (!d) return null;
    const pending = d.state === 'pending';
    const forward = pending ? await bringDeliveriesForward(trx, { userId: d.user_id, sequence: Number(d.sequence) }) : null;
    const replayedAt = forward ? forward.at : await requeueDeliveries(trx, [deliveryId]);
    await recordAdminAction(trx, {
      actor,
      action: 'deliveries.replay',
      target: `delivery:${deliveryId}`,
      reason,
      details: {
        previousState: d.state,
        userId: d.user_id,
        type: d.type,
        sequence: Number(d.sequence),
        attempts: d.attempts,
        ...(forward ? { previousNextAttemptAt: d.next_attempt_at.toISOString(), dueNow: forward.ids } : {}),
      },
    });
    return {
      requested: 1,
      requeued: pending ? 0 : 1,
      alreadyPending: pending ? 1 : 0,
      dueNow: forward?.ids.length ?? 0,
      replayedAt: replayedAt.toISOString(),
    };
  });
  if (result && (result.requeued || result.dueNow)) deps.hostWebhooks?.wake();
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
    return { requested: dead.length, requeued: dead.length, alreadyPending: 0, dueNow: 0, replayedAt: replayedAt.toISOString() };
  });
  if (result.requeued) deps.hostWebhooks?.wake();
  return result;
}
