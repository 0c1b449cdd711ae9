import { findInvoiceForOrder, findOrder, listOrdersForUser } from '@settle/db';
import { z } from 'zod';
import { toOrderDto } from '../../payments/order.mapper.js';
import { domainError, router, userProcedure } from '../trpc.js';
import { decodeCursor, encodeCursor } from '../cursor.js';

const OrderId = z.string().uuid({ message: 'orderId must be a UUID' });

export const ordersRouter = router({
  get: userProcedure.input(z.object({ orderId: OrderId })).query(async ({ ctx, input }) => {
    const row = await findOrder(ctx.deps.database.db, input.orderId);
    // Someone else's order is indistinguishable from a missing one.
    if (!row || row.user_id !== ctx.user.id) throw domainError('NOT_FOUND', 'order not found');
    return toOrderDto(row, await findInvoiceForOrder(ctx.deps.database.db, row.id));
  }),

  list: userProcedure
    .input(z.object({ cursor: z.string().max(200).nullish(), limit: z.number().int().min(1).max(100).default(20) }).default({ limit: 20 }))
    .query(async ({ ctx, input }) => {
      const cursor = input.cursor ? decodeCursor(input.cursor) : undefined;
      const rows = await listOrdersForUser(ctx.deps.database.db, ctx.user.id, { limit: input.limit + 1, cursor });
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return {
        items: page.map((r) => toOrderDto(r)),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ createdAt: new Date(last.created_at).toISOString(), id: last.id }) : null,
      };
    }),
});
