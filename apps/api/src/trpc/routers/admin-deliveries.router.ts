import { countReplayedDeliveries, getDelivery, HOST_DELIVERY_STATES, hostOutboxHealth, listDeliveries, listDeliveryAttempts, type HostDeliveryRow } from '@settle/db';
import { z } from 'zod';
import { replayDeadDeliveriesSince, replayDelivery } from '../../host-webhooks/delivery-replay.service.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { adminProcedure, domainError, router } from '../trpc.js';

const Reason = z.string().trim().min(3, 'a reason of at least 3 characters is required').max(500);
const DeliveryId = z.string().uuid('deliveryId must be a delivery id (uuid)');
const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

function deliverySummary(d: Omit<HostDeliveryRow, 'payload' | 'locked_until' | 'locked_by' | 'replayed_at' | 'transaction_id' | 'coalesce_key'>) {
  return {
    deliveryId: d.id,
    userId: d.user_id,
    sequence: Number(d.sequence),
    type: d.type,
    state: d.state,
    attempts: d.attempts,
    lastError: d.last_error,
    createdAt: iso(d.created_at)!,
    nextAttemptAt: d.state === 'pending' ? iso(d.next_attempt_at) : null,
    deliveredAt: iso(d.delivered_at),
    deadAt: iso(d.dead_at),
  };
}

/** Webhooks to the host app: what was sent, every attempt, and replays. */
export const adminDeliveriesRouter = router({
  /** Whether a host is configured, and how far behind it is. */
  status: adminProcedure('viewer').query(async ({ ctx }) => {
    const health = await hostOutboxHealth(ctx.deps.database.db);
    const url = ctx.deps.env.HOST_WEBHOOK_URL;
    return {
      configured: Boolean(url),
      host: url ? new URL(url).origin : null,
      maxAttempts: ctx.deps.env.HOST_WEBHOOK_MAX_ATTEMPTS,
      /** Days delivered, dead and never-sent messages are kept before they are pruned. */
      retentionDays: ctx.deps.env.HOST_WEBHOOK_RETENTION_DAYS,
      ...health,
    };
  }),

  list: adminProcedure('viewer')
    .input(
      z
        .object({
          state: z.enum(HOST_DELIVERY_STATES).optional(),
          userId: z.string().trim().min(1).max(255).optional(),
          type: z.enum(['entitlements.updated', 'order.updated']).optional(),
          cursor: z.string().max(300).nullish(),
          limit: z.number().int().min(1).max(200).default(50),
        })
        .default({ limit: 50 }),
    )
    .query(async ({ ctx, input }) => {
      const cursor = input.cursor ? decodeCursor(input.cursor, { uuidIds: true }) : undefined;
      const rows = await listDeliveries(ctx.deps.database.db, { state: input.state, userId: input.userId, type: input.type, cursor, limit: input.limit + 1 });
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return {
        items: page.map(deliverySummary),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ createdAt: last.cursor_at, id: last.id }) : null,
      };
    }),

  get: adminProcedure('viewer')
    .input(z.object({ deliveryId: DeliveryId }))
    .query(async ({ ctx, input }) => {
      const d = await getDelivery(ctx.deps.database.db, input.deliveryId);
      if (!d) throw domainError('NOT_FOUND', `no delivery ${input.deliveryId}`);
      const attempts = await listDeliveryAttempts(ctx.deps.database.db, d.id);
      return {
        ...deliverySummary(d),
        payload: d.payload,
        replayedAt: iso(d.replayed_at),
        attemptLog: attempts.map((a) => ({
          attemptedAt: iso(a.attempted_at)!,
          durationMs: a.duration_ms,
          responseStatus: a.response_status,
          responseBody: a.response_body,
          error: a.error,
          worker: a.worker,
        })),
      };
    }),

  replay: adminProcedure('operator')
    .input(
      z.union([
        z.object({ deliveryId: DeliveryId, reason: Reason }),
        z.object({ deadSince: z.string().datetime({ message: 'deadSince must be an ISO-8601 time' }), reason: Reason }),
      ]),
    )
    .mutation(async ({ ctx, input }) => {
      if ('deliveryId' in input) {
        const r = await replayDelivery(ctx.deps, input.deliveryId, ctx.admin.actor, input.reason);
        if (!r) throw domainError('NOT_FOUND', `no delivery ${input.deliveryId}`);
        return r;
      }
      return replayDeadDeliveriesSince(ctx.deps, new Date(input.deadSince), ctx.admin.actor, input.reason);
    }),

  /** Deliveries replayed since `replayedAt` (what `replay` returned), by state: a bulk replay's progress. */
  replayProgress: adminProcedure('viewer')
    .input(z.object({ replayedAt: z.string().datetime() }))
    .query(async ({ ctx, input }) => countReplayedDeliveries(ctx.deps.database.db, new Date(input.replayedAt))),
});
