import { findOrder, listOrdersForUser } from '@settle/db';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { OrderId } from '../schemas.js';
import { readOrderDto, readOrderDtos } from '../../payments/order-view.js';
import { domainError, router, userProcedure } from '../trpc.js';
import { decodeCursor, encodeCursor } from '../cursor.js';


export const ordersRouter = router({
  get: userProcedure.input(z.object({ orderId: OrderId })).query(async ({ ctx, input }) => {
    const row = await findOrder(ctx.deps.database.db, input.orderId);
    // Someone else's order is indistinguishable from a missing one.
    if (!row || row.user_id !== ctx.user.id) throw domainError('NOT_FOUND', 'order not found');
    const db = ctx.deps.database.db;
    return readOrderDto(db, row);
  }),

  list: userProcedure
    .input(z.object({ cursor: z.string().max(200).nullish(), limit: z.number().int().min(1).max(100).default(20) }).default({ limit: 20 }))
    .query(async ({ ctx, input }) => {
      const cursor = input.cursor ? decodeCursor(input.cursor, { uuidIds: true }) : undefined;
      const rows = await listOrdersForUser(ctx.deps.database.db, ctx.user.id, { limit: input.limit + 1, cursor });
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      // The same Order as `orders.get`: with its invoice and subscription (one query each for the page).
      const views = await readOrderDtos(ctx.deps.database.db, page);
      return {
        items: views.map((v) => v.dto),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ createdAt: last.cursor_at, id: last.id }) : null,
      };
    }),

  /**
   * Live status: the order now, then again on every change, from any API instance (PostgreSQL
   * LISTEN/NOTIFY). Over SSE: `httpSubscriptionLink`, with the user token in `connectionParams`.
   */
  onStatus: userProcedure.input(z.object({ orderId: OrderId })).subscription(async function* ({ ctx, input, signal }) {
    const db = ctx.deps.database.db;
    const first = await findOrder(db, input.orderId);
    if (!first || first.user_id !== ctx.user.id) throw domainError('NOT_FOUND', 'order not found');
    const releaseSlot = ctx.limits ? ctx.limits.openStream(ctx.user.id) : () => {};
    if (!releaseSlot) throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: `at most ${ctx.deps.env.SUBSCRIPTIONS_PER_USER} live status streams per user` });
    let wake: (() => void) | null = null;
    let dirty = true;
    const unsubscribe = ctx.deps.orderChanges.subscribe(input.orderId, () => {
      dirty = true;
      wake?.();
    });
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      let last = '';
      while (!signal?.aborted) {
        if (dirty) {
          dirty = false;
          const row = await findOrder(db, input.orderId);
          if (row) {
            const dto = await readOrderDto(db, row);
            const key = `${dto.status}|${dto.updatedAt}|${dto.invoice?.id ?? ''}`;
            if (key !== last) {
              last = key;
              yield dto;
            }
          }
        }
        // A change announced while this read or the last yield was under way set `dirty` with no
        // one waiting to be woken: read again at once (and an abort meanwhile ends the stream).
        if (dirty || signal?.aborted) continue;
        // A missed notification (a dropped LISTEN connection) is caught by a slow re-read.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            dirty = true;
            resolve();
          }, 15_000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    } finally {
      releaseSlot();
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
    }
  }),
});
