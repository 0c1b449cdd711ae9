import {
  findInvoiceForOrder,
  countSubscriptionsByStatusAndPlan,
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

/** Statuses whose subscriptions bring money every month (a trial does not yet). */
const PAYING = ['active', 'cancel_at_period_end', 'past_due'];

export const adminSubscriptionsRouter = router({
  /** The Overview's numbers: subscriptions by status, and monthly recurring revenue by plan (catalogue prices). */
  summary: adminProcedure('viewer').query(async ({ ctx }) => {
    const rows = await countSubscriptionsByStatusAndPlan(ctx.deps.database.db);
    const byStatus = Object.fromEntries(SUBSCRIPTION_STATUSES.map((s) => [s, 0])) as Record<(typeof SUBSCRIPTION_STATUSES)[number], number>;
    const mrr = new Map<string, { plan: string; currency: string; amount: number; subscriptions: number }>();
    for (const r of rows) {
      if (r.status in byStatus) byStatus[r.status as keyof typeof byStatus] += r.count;
      // A trial pays nothing yet, even once its cancellation is scheduled (status cancel_at_period_end).
      if (!PAYING.includes(r.status) || r.stripe_status === 'trialing' || !r.plan) continue;
      const product = (r.stripe_price_id ? ctx.deps.catalogue.byStripePrice(r.stripe_price_id) : undefined) ?? ctx.deps.catalogue.get(r.product_id);
      if (!product) continue;
      const key = `${r.plan}:${product.currency}`;
      const entry = mrr.get(key) ?? { plan: r.plan, currency: product.currency, amount: 0, subscriptions: 0 };
      entry.amount += product.amount * r.count;
      entry.subscriptions += r.count;
      mrr.set(key, entry);
    }
    return { byStatus, mrrByPlan: [...mrr.values()].sort((a, b) => b.amount - a.amount) };
  }),

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
      const [payments, history, order, invoice] = await Promise.all([
        listSubscriptionPayments(db, [row.id]),
        listSubscriptionHistory(db, row.id),
        row.order_id ? findOrder(db, row.order_id) : Promise.resolve(undefined),
        row.order_id ? findInvoiceForOrder(db, row.order_id) : Promise.resolve(undefined),
      ]);
      return {
        subscription: toSubscriptionDto({ ...row, order_status: order?.status ?? null, order_created_at: order?.created_at ?? null }, payments, ctx.deps.catalogue),
        order: order ? toOrderDto(order, invoice, row) : null,
        invoices: payments.map(toSubscriptionPaymentDto),
        history: history.map(toSubscriptionHistoryDto),
      };
    }),
});
