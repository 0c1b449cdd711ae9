import {
  ATTENTION_KINDS,
  findInvoiceForOrder,
  findOrder,
  findSubscriptionForOrder,
  listSubscriptionPayments,
  listAttention,
  listCreditLedgerForOrder,
  listEventReplays,
  listEventsForOrder,
  listDuplicatePaymentsForOrder,
  listGrantsForOrder,
  listOrdersForAdmin,
  listRefundsForOrder,
  listTransitions,
} from '@settle/db';
import { creditsToRevoke, ORDER_STATUSES } from '@settle/payments-core';
import { toOrderState } from '../../payments/order.mapper.js';
import { z } from 'zod';
import { OrderId } from '../schemas.js';
import { toDuplicatePaymentDto, toOrderDto, toRefundDto } from '../../payments/order.mapper.js';
import { readOrderDto, readOrderDtos } from '../../payments/order-view.js';
import { toSubscriptionDto } from '../../payments/subscription.mapper.js';
import { overrideOrder } from '../../payments/order-admin.service.js';
import { refundOrder } from '../../payments/refund.service.js';
import { grantOfOrder } from '../../payments/product-catalogue.js';
import { recordAdminAction } from '@settle/db';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { errorMessage, isStripeError, stripeFailure } from '../../lib/errors.js';
import { adminProcedure, domainError, router, type DomainErrorCode } from '../trpc.js';

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** The longest search the console sends (its input stops there too); no id or e-mail is longer. */
export const SEARCH_MAX_LENGTH = 200;

export const adminOrdersRouter = router({
  list: adminProcedure('viewer')
    .input(
      z
        .object({
          status: z.enum(ORDER_STATUSES).optional(),
          stuckForMinutes: z.number().int().min(0).max(525_600).optional(),
          /** Any part of an order id, Stripe id, user id, e-mail, or a product's name. */
          search: z.string().trim().max(SEARCH_MAX_LENGTH, `search is at most ${SEARCH_MAX_LENGTH} characters`).optional(),
          /**
           * `true`: only orders with Stripe events that failed, died or found no order;
           * `duplicate_payment`: only orders the customer paid twice (contract).
           */
          incident: z.union([z.boolean(), z.literal('duplicate_payment')]).optional(),
          /** Paid one-time orders whose invoice has not arrived after INVOICE_MISSING_AFTER_MIN. */
          missingInvoice: z.boolean().optional(),
          cursor: z.string().max(300).nullish(),
          limit: z.number().int().min(1).max(200).default(50),
        })
        .default({ limit: 50 }),
    )
    .query(async ({ ctx, input }) => {
      const search = input.search?.toLowerCase();
      const rows = await listOrdersForAdmin(ctx.deps.database.db, {
        status: input.status,
        stuckForMinutes: input.stuckForMinutes,
        // As typed: the search ignores case, but a Stripe id it looks up elsewhere is matched exactly.
        search: input.search?.trim() || undefined,
        searchProductIds: search ? ctx.deps.catalogue.list().filter((p) => p.name.toLowerCase().includes(search) || p.id.toLowerCase().includes(search)).map((p) => p.id) : undefined,
        incident: input.incident,
        missingInvoiceAfterMinutes: input.missingInvoice ? ctx.deps.env.INVOICE_MISSING_AFTER_MIN : undefined,
        cursor: input.cursor ? decodeCursor(input.cursor, { uuidIds: true }) : undefined,
        limit: input.limit + 1,
      });
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      // The same Order as `admin.orders.get` shows: with its invoice and subscription (one query each for the page).
      const views = await readOrderDtos(ctx.deps.database.db, page);
      return {
        items: views.map(({ row, dto }) => ({ ...dto, incidents: row.incident_states })),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ createdAt: last.cursor_at, id: last.id }) : null,
      };
    }),

  get: adminProcedure('viewer')
    .input(z.object({ orderId: OrderId }))
    .query(async ({ ctx, input }) => {
      const db = ctx.deps.database.db;
      const row = await findOrder(db, input.orderId);
      if (!row) throw domainError('NOT_FOUND', 'order not found');
      const [invoice, events, transitions, grants, subscription, refunds, duplicatePayments] = await Promise.all([
        findInvoiceForOrder(db, row.id),
        listEventsForOrder(db, row.id),
        listTransitions(db, row.id),
        listGrantsForOrder(db, row.id),
        row.mode === 'subscription' ? findSubscriptionForOrder(db, row.id) : Promise.resolve(undefined),
        listRefundsForOrder(db, row.id),
        listDuplicatePaymentsForOrder(db, row.id),
      ]);
      const payments = subscription ? await listSubscriptionPayments(db, [subscription.id]) : [];
      const [replays, ledger] = await Promise.all([listEventReplays(db, events.map((e) => e.id)), listCreditLedgerForOrder(db, row.id)]);
      return {
        order: toOrderDto(row, invoice, subscription),
        /** The buyer's e-mail as Checkout collected it (search finds orders by it; the console shows it). */
        customerEmail: row.customer_email,
        /** A plan order's subscription: what the plan is doing now, whatever the order's own status. */
        subscription: subscription
          ? toSubscriptionDto({ ...subscription, order_status: row.status, order_created_at: row.created_at }, payments, ctx.deps.catalogue)
          : null,
        events: events.map((e) => ({
          eventId: e.id,
          type: e.type,
          state: e.state,
          outcome: e.outcome,
          attempts: e.attempts,
          lastError: e.last_error,
          /** Every failed attempt, also those before a replay (a replay starts the count again). */
          errors: e.errors,
          /** Who put the event back in the queue, when and why. */
          replays: replays.filter((r) => r.eventId === e.id).map((r) => ({ actor: r.actor, reason: r.reason, at: r.at.toISOString(), bulk: r.bulk })),
          stripeCreatedAt: iso(e.stripe_created)!,
          receivedAt: iso(e.received_at)!,
          processedAt: iso(e.processed_at),
        })),
        transitions: transitions.map((t) => ({
          id: Number(t.id),
          from: t.from_status,
          to: t.to_status,
          cause: t.cause,
          actor: t.actor,
          reason: t.reason,
          eventId: t.event_id,
          stripeAt: iso(t.stripe_at),
          at: iso(t.created_at)!,
        })),
        /** Credit movements of this order, with their time: a partial refund's take-back shows here. */
        credits: ledger.map((l) => ({ delta: Number(l.delta), reason: l.reason, at: iso(l.created_at)! })),
        grants: grants.map((g) => ({
          kind: g.kind,
          credits: g.credits,
          plan: g.plan,
          creditsRevoked: g.credits_revoked,
          grantedAt: iso(g.granted_at)!,
          revokedAt: iso(g.revoked_at),
          eventId: g.event_id,
        })),
        refunds: refunds.map(toRefundDto),
        duplicatePayments: duplicatePayments.map(toDuplicatePaymentDto),
      };
    }),

  /**
   * The "Needs attention" view: what waits for an operator (overdue async payments and customer
   * actions, reviews, dead letters, unmatched events, duplicate payments not yet refunded,
   * subscriptions parked for review) apart from what resolves without one
   * (abandoned checkouts, customer-side failures); oldest first.
   */
  attention: adminProcedure('viewer')
    .input(
      z
        .object({
          processingAfterMinutes: z.number().int().min(1).max(525_600).optional(),
          requiresActionAfterMinutes: z.number().int().min(1).max(525_600).default(60),
          abandonedAfterMinutes: z.number().int().min(1).max(525_600).default(60),
          limit: z.number().int().min(1).max(200).default(50),
        })
        .default({ requiresActionAfterMinutes: 60, abandonedAfterMinutes: 60, limit: 50 }),
    )
    .query(async ({ ctx, input }) => {
      const now = Date.now();
      const { items, counts } = await listAttention(
        ctx.deps.database.db,
        {
          // Past the age the reconciler already asks Stripe about it.
          processingMinutes: input.processingAfterMinutes ?? ctx.deps.env.RECONCILE_PROCESSING_AFTER_MIN,
          requiresActionMinutes: input.requiresActionAfterMinutes,
          abandonedMinutes: input.abandonedAfterMinutes,
        },
        input.limit,
      );
      return {
        items: items.map((i) => ({ ...i, needs: ATTENTION_KINDS[i.kind], since: i.since.toISOString(), stuckForSeconds: Math.max(0, Math.round((now - i.since.getTime()) / 1000)) })),
        counts,
        /** How many wait for an operator, and how many resolve without one (all of them, not just those listed). */
        totals: {
          operator: Object.entries(counts).reduce((n, [k, v]) => n + (ATTENTION_KINDS[k as keyof typeof ATTENTION_KINDS] === 'operator' ? v : 0), 0),
          noAction: Object.entries(counts).reduce((n, [k, v]) => n + (ATTENTION_KINDS[k as keyof typeof ATTENTION_KINDS] === 'no_action' ? v : 0), 0),
        },
      };
    }),

  /** What a refund of `amount` would do to the order's grant, by the product's refund policy. */
  refundPreview: adminProcedure('viewer')
    .input(z.object({ orderId: OrderId, amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) }))
    .query(async ({ ctx, input }) => {
      const db = ctx.deps.database.db;
      const row = await findOrder(db, input.orderId);
      if (!row) throw domainError('NOT_FOUND', 'order not found');
      const stored = row.grant_spec !== null && row.grant_spec !== undefined;
      if (!stored && !ctx.deps.catalogue.get(row.product_id)) throw domainError('PRECONDITION', `product ${row.product_id} is not in the catalogue`);
      const grant = grantOfOrder(ctx.deps.catalogue, row);
      const order = toOrderState(row);
      const refundedAfter = Math.min(order.amount, order.amountRefunded + input.amount);
      const full = refundedAfter >= order.amount;
      const granted = (await listGrantsForOrder(db, row.id)).find((g) => g.kind === grant.kind);
      const revokedBefore = granted ? Number(granted.credits_revoked) : 0;
      const creditsAfter = creditsToRevoke(grant, order, refundedAfter);
      return {
        full,
        grant: grant.kind === 'credits' ? { kind: 'credits' as const, credits: grant.credits, plan: null } : { kind: 'plan' as const, credits: null, plan: grant.plan },
        partialRefundPolicy: grant.kind === 'credits' ? grant.partialRefund : ('none' as const),
        /** Whether anything was granted yet (a needs_review order has no grant to take back). */
        granted: granted !== undefined,
        creditsRevoked: granted ? Math.max(0, creditsAfter - revokedBefore) : 0,
        planRevoked: granted !== undefined && grant.kind === 'plan' && full,
      };
    }),

  override: adminProcedure('operator')
    .input(
      z.object({
        orderId: OrderId,
        to: z.enum(ORDER_STATUSES),
        reason: z.string().trim().min(3, 'a reason of at least 3 characters is required').max(500),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { database, catalogue, metrics, logger } = ctx.deps;
      const r = await overrideOrder({ db: database.db, catalogue, metrics, logger }, input.orderId, input.to, input.reason, ctx.admin.actor);
      if (!r.ok) throw domainError(r.code, r.message);
      return readOrderDto(ctx.deps.database.db, r.order);
    }),

  reconcile: adminProcedure('operator')
    .input(z.object({ orderId: OrderId, reason: z.string().trim().min(3, 'a reason of at least 3 characters is required').max(500) }))
    .mutation(async ({ ctx, input }) => {
      // Every attempt is audited, the failed ones with their error.
      const audit = (details: Record<string, unknown>) =>
        recordAdminAction(ctx.deps.database.db, { actor: ctx.admin.actor, action: 'orders.reconcile', target: `order:${input.orderId}`, reason: input.reason, details });
      const fail = async (code: DomainErrorCode, message: string) => {
        await audit({ status: 'failed', error: message });
        return domainError(code, message);
      };
      if (!ctx.deps.stripe) throw await fail('PRECONDITION', 'Stripe is not configured on this server');
      let r: Awaited<ReturnType<typeof ctx.deps.reconciler.reconcileOrder>>;
      try {
        r = await ctx.deps.reconciler.reconcileOrder(input.orderId, ctx.admin.actor);
      } catch (err) {
        if (!isStripeError(err)) {
          await audit({ status: 'failed', error: errorMessage(err) });
          throw err;
        }
        const f = stripeFailure(err, 'order');
        throw await fail(f.code, f.message);
      }
      if (!r) throw await fail('NOT_FOUND', 'order not found');
      await audit({ changed: r.changed, stripeSays: r.commands, status: r.order.status });
      return { changed: r.changed, stripeSays: r.commands, order: await readOrderDto(ctx.deps.database.db, r.order) };
    }),

  refund: adminProcedure('operator')
    .input(
      z.object({
        orderId: OrderId,
        /** Minor units; omitted: everything not refunded yet. */
        amount: z.number().int().positive().optional(),
        reason: z.string().trim().min(3, 'a reason of at least 3 characters is required').max(500),
        /** One id per refund the operator means; a retry with the same id refunds once. */
        requestId: z.string().uuid().optional(),
        /** Refund a duplicate payment of the order (see `duplicatePayments`) instead of its own payment. */
        paymentIntentId: z.string().min(1).max(255).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const r = await refundOrder(ctx.deps, input.orderId, input.amount, input.reason, ctx.admin.actor, input.requestId, input.paymentIntentId);
      if (!r.ok) throw domainError(r.code, r.message);
      return { refundId: r.refundId, amount: r.amount, status: r.status };
    }),
});
