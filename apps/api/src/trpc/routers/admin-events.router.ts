import { countEventsByStateSince, countEventsInOtherApiVersions, getEvent, listEvents } from '@settle/db';
import { INBOX_STATES } from '@settle/payments-core';
import { errorMessage } from '../../lib/errors.js';
import { pinnedApiVersion } from '../../lib/stripe-client.js';
import { z } from 'zod';
import { OrderId } from '../schemas.js';
import { replayDeadSince, replayEvent } from '../../payments/replay.service.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { adminProcedure, domainError, router } from '../trpc.js';

const Reason = z.string().trim().min(3, 'a reason of at least 3 characters is required').max(500);

export const adminEventsRouter = router({
  list: adminProcedure('viewer')
    .input(
      z
        .object({
          state: z.enum(INBOX_STATES).optional(),
          type: z.string().max(100).optional(),
          orderId: OrderId.optional(),
          receivedFrom: z.string().datetime().optional(),
          receivedTo: z.string().datetime().optional(),
          cursor: z.string().max(300).nullish(),
          limit: z.number().int().min(1).max(200).default(50),
        })
        .default({ limit: 50 }),
    )
    .query(async ({ ctx, input }) => {
      const cursor = input.cursor ? decodeCursor(input.cursor) : undefined;
      const rows = await listEvents(ctx.deps.database.db, {
        state: input.state,
        type: input.type,
        orderId: input.orderId,
        receivedFrom: input.receivedFrom ? new Date(input.receivedFrom) : undefined,
        receivedTo: input.receivedTo ? new Date(input.receivedTo) : undefined,
        cursor: cursor ? { receivedAt: cursor.createdAt, id: cursor.id } : undefined,
        limit: input.limit + 1,
      });
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return {
        items: page.map((r) => ({
          eventId: r.id,
          type: r.type,
          objectId: r.object_id,
          orderId: r.order_id,
          state: r.state,
          outcome: r.outcome,
          attempts: r.attempts,
          errorCount: Number(r.error_count),
          lastError: r.last_error,
          stripeCreatedAt: new Date(r.stripe_created).toISOString(),
          receivedAt: new Date(r.received_at).toISOString(),
          nextAttemptAt: new Date(r.next_attempt_at).toISOString(),
          processedAt: r.processed_at ? new Date(r.processed_at).toISOString() : null,
        })),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ createdAt: last.cursor_at, id: last.id }) : null,
      };
    }),

  get: adminProcedure('viewer')
    .input(z.object({ eventId: z.string().min(1).max(255) }))
    .query(async ({ ctx, input }) => {
      const ev = await getEvent(ctx.deps.database.db, input.eventId);
      if (!ev) throw domainError('NOT_FOUND', `no event ${input.eventId}`);
      return {
        eventId: ev.id,
        type: ev.type,
        state: ev.state,
        outcome: ev.outcome,
        orderId: ev.order_id,
        attempts: ev.attempts,
        errors: ev.errors,
        lastError: ev.last_error,
        payload: ev.payload as Record<string, unknown>,
        stripeCreatedAt: new Date(ev.stripe_created).toISOString(),
        receivedAt: new Date(ev.received_at).toISOString(),
        processedAt: ev.processed_at ? new Date(ev.processed_at).toISOString() : null,
      };
    }),

  /** Events received since a time, by state: what a bulk replay's progress bar follows. */
  stateCounts: adminProcedure('viewer')
    .input(z.object({ receivedFrom: z.string().datetime() }))
    .query(async ({ ctx, input }) => countEventsByStateSince(ctx.deps.database.db, new Date(input.receivedFrom))),

  replay: adminProcedure('operator')
    .input(
      z.union([
        z.object({ eventId: z.string().min(1).max(255), reason: Reason }),
        z.object({ deadSince: z.string().datetime({ message: 'deadSince must be an ISO-8601 time' }), reason: Reason }),
      ]),
    )
    .mutation(async ({ ctx, input }) => {
      if ('eventId' in input) {
        const counts = await replayEvent(ctx.deps, input.eventId, ctx.admin.actor, input.reason);
        if (!counts) throw domainError('NOT_FOUND', `no event ${input.eventId}`);
        return { ...counts, eventIds: [input.eventId] };
      }
      return replayDeadSince(ctx.deps, new Date(input.deadSince), ctx.admin.actor, input.reason);
    }),

  /**
   * Store every event Stripe has that Settle does not (Stripe's Events API, the last 30 days):
   * undelivered ones, then a window from `since` (default: shortly before the newest stored event).
   */
  recover: adminProcedure('operator')
    .input(z.object({ reason: Reason, since: z.string().datetime({ message: 'since must be an ISO-8601 time' }).optional() }))
    .mutation(async ({ ctx, input }) => {
      if (!ctx.deps.stripe) throw domainError('PRECONDITION', 'Stripe is not configured on this server');
      try {
        return await ctx.deps.recovery.recover({
          trigger: 'admin',
          actor: ctx.admin.actor,
          reason: input.reason,
          ...(input.since ? { since: new Date(input.since) } : {}),
        });
      } catch (err) {
        ctx.deps.logger.warn({ err: errorMessage(err) }, 'event recovery failed');
        throw domainError('UNAVAILABLE', 'Stripe could not be read; try again');
      }
    }),

  /** The recovery in progress on this instance (or its last one): what the console's progress bar follows. */
  recoveryProgress: adminProcedure('viewer').query(({ ctx }) => ctx.deps.recovery.progress()),

  /** Event API versions of the last 24 h that differ from the pinned one (a console warning). */
  apiVersions: adminProcedure('viewer').query(async ({ ctx }) => {
    const pinned = pinnedApiVersion(ctx.deps.env);
    return { pinned, others: await countEventsInOtherApiVersions(ctx.deps.database.db, pinned, new Date(Date.now() - 86_400_000)) };
  }),
});
