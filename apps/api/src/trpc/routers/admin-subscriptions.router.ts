import {
  findOrder,
  findSubscription,
  listSubscriptionHistory,
  listSubscriptionPayments,
  listSubscriptionsForAdmin,
} from '@settle/db';
import { SUBSCRIPTION_STATUSES } from '@settle/payments-core';
import { z } from 'zod';
import { toOrderDto } from '../../payments/order.mapper.js';
import { toSubscriptionDto, toSubscriptionHistoryDto, toSubscriptionPaymentDto } from '../../payments/subscription.mapper.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { adminProcedure, domainError, router } from '../trpc.js';

export const adminSubscriptionsRouter = router({
  list: adminProcedure('viewer')
    .input(
      z
        .object({
          status: z.enum(SUBSCRIPTION_STATUSES).optional(),
          userId: z.string().trim().min(1).max(255).optional(),
          cursor: z.string().max(300).nullish(),
          limit: z.number().int().min(1).max(200).default(50),
        })
        .default({ limit: 50 }),
    )
    .query(async ({ ctx, input }) => {
      const db = ctx.deps.database.db;
      const rows = await listSubscriptionsForAdmin(db, {
        status: input.status,
        userId: input.userId,
        cursor: input.cursor ? decodeCursor(input.cursor) : undefined,
        limit: input.limit + 1,
      });
      const page = rows.slice(0, input.limit);
      const payments = await listSubscriptionPayments(db, page.map((r) => r.id));
      const last = page.at(-1);
      return {
        items: page.map((r) => toSubscriptionDto(r, payments, ctx.deps.catalogue)),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ createdAt: last.cursor_at, id: last.id }) : null,
      };
    }),

  /** The subscription, every invoice with its payment, refunds and dispute, and its timeline (status and plan changes, who and why). */
  get: adminProcedure('viewer')
    .input(z.object({ subscriptionId: z.string().trim().min(1).max(255) }))
    .query(async ({ ctx, input }) => {
      const db = ctx.deps.database.db;
      const row = await findSubscription(db, input.subscriptionId);
      if (!row) throw domainError('NOT_FOUND', 'subscription not found');
      const [payments, history, order] = await Promise.all([
        listSubscriptionPayments(db, [row.id]),
        listSubscriptionHistory(db, row.id),
        row.order_id ? findOrder(db, row.order_id) : Promise.resolve(undefined),
      ]);
      return {
        subscription: toSubscriptionDto(row, payments, ctx.deps.catalogue),
        order: order ? toOrderDto(order, undefined, row) : null,
        invoices: payments.map(toSubscriptionPaymentDto),
        history: history.map(toSubscriptionHistoryDto),
      };
    }),
});
