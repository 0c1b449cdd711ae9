import { insertTransition, setPlan, upsertInvoice, type OrderRow, type Trx } from '@settle/db';
import type { Decision, Effect, OrderState } from '@settle/payments-core';
import { fromSeconds } from '../lib/epoch-seconds.js';
import { orderPatch } from './order.mapper.js';
import { applyRefundEffect } from './refund-effects.js';
import { DIRECT_WRITES, moveCredits, type OrderUnitOfWork, type OrderWrites } from './order-unit-of-work.js';

export type DecisionSource = {
  cause: 'stripe_event' | 'admin' | 'reconciler' | 'system';
  actor: string;
  eventId: string | null;
  /** Stripe `created` of the event behind the decision, epoch seconds. */
  stripeAt: number | null;
  /** Overrides the effect's own reason in the audit trail (an admin's words). */
  reason?: string;
};

export type AppliedEffects = {
  transitions: { from: string; to: string }[];
  granted: number;
  revoked: number;
  /** Grants given back because a refund failed. */
  restored: number;
  /** Second payments for the order, newly recorded. */
  duplicatePayments: number;
};

/**
 * Carry out a decision inside the caller's transaction, which holds the order's row lock: write
 * the order, one audit row per transition, and the grants, revocations and invoices it asks for.
 * Grants rest on the database's one-per-order-and-kind constraint, so a replay grants nothing.
 */
export async function applyDecision(
  trx: Trx,
  row: OrderRow,
  before: OrderState,
  decision: Decision,
  source: DecisionSource,
  unit?: OrderUnitOfWork,
): Promise<{ order: OrderRow; applied: AppliedEffects }> {
  const writes = unit?.writesFor(row) ?? DIRECT_WRITES;
  const patch = orderPatch(before, decision.next);
  const order = Object.keys(patch).length > 0 ? await writes.updateOrder(trx, row, patch) : row;
  const applied: AppliedEffects = { transitions: [], granted: 0, revoked: 0, restored: 0, duplicatePayments: 0 };
  for (const effect of decision.effects) await applyEffect(trx, order, effect, source, applied, unit, writes);
  return { order, applied };
}

async function applyEffect(
  trx: Trx,
  order: OrderRow,
  effect: Effect,
  source: DecisionSource,
  applied: AppliedEffects,
  unit: OrderUnitOfWork | undefined,
  writes: OrderWrites,
) {
  switch (effect.type) {
    case 'audit': {
      const transition = {
        order_id: order.id,
        from_status: effect.from,
        to_status: effect.to,
        cause: source.cause,
        event_id: source.eventId,
        actor: source.actor,
        reason: source.reason ?? effect.reason,
        stripe_at: fromSeconds(source.stripeAt),
      };
      // In a batch the audit row is written with the batch's others, still before the commit.
      if (unit) unit.recordTransition(transition);
      else await insertTransition(trx, transition);
      applied.transitions.push({ from: effect.from, to: effect.to });
      return;
    }
    case 'grant': {
      const { grant } = effect;
      const inserted = await writes.insertGrantOnce(trx, {
        order_id: order.id,
        user_id: order.user_id,
        kind: grant.kind,
        credits: grant.kind === 'credits' ? grant.credits : 0,
        plan: grant.kind === 'plan' ? grant.plan : null,
        event_id: source.eventId,
        revoked_at: null,
      });
      if (!inserted) return;
      applied.granted += 1;
      if (grant.kind === 'credits') {
        await moveCredits(trx, { userId: order.user_id, orderId: order.id, delta: grant.credits, reason: 'grant' }, unit);
      } else {
        await setPlan(trx, order.user_id, grant.plan, 'active', unit?.hostMessages);
      }
      return;
    }
    case 'revoke': {
      const grant = await writes.lockGrant(trx, order.id, effect.grant.kind);
      if (!grant || grant.revoked_at) return;
      if (effect.grant.kind === 'plan') {
        await setPlan(trx, order.user_id, null, 'canceled', unit?.hostMessages);
        await writes.markGrantRevoked(trx, grant, 0, true);
        applied.revoked += 1;
        return;
      }
      const target = Math.min(grant.credits, effect.creditsRevoked);
      const delta = target - grant.credits_revoked;
      if (delta <= 0) return;
      await moveCredits(trx, { userId: order.user_id, orderId: order.id, delta: -delta, reason: effect.reason }, unit);
      await writes.markGrantRevoked(trx, grant, target, target >= grant.credits);
      applied.revoked += 1;
      return;
    }
    case 'record_invoice': {
      const i = effect.invoice;
      const invoice = {
        id: i.invoiceId,
        order_id: order.id,
        number: i.number,
        status: i.status,
        hosted_invoice_url: i.hostedInvoiceUrl,
        invoice_pdf: i.invoicePdf,
        amount_due: i.amountDue,
        amount_paid: i.amountPaid,
        currency: i.currency,
        subscription_id: i.subscriptionId,
        stripe_created: new Date(i.createdAt * 1000),
        finalized_at: fromSeconds(i.finalizedAt),
        paid_at: fromSeconds(i.paidAt),
      };
      if (unit) unit.recordInvoice(invoice);
      else await upsertInvoice(trx, invoice);
      return;
    }
    case 'restore':
    case 'record_refund':
    case 'record_duplicate_payment':
    case 'record_duplicate_refund':
    case 'undo_duplicate_refund': {
      const r = await applyRefundEffect(trx, order, effect, source.eventId, writes, unit);
      applied.restored += r.restored;
      if (r.duplicatePayment) applied.duplicatePayments += 1;
      return;
    }
  }
}
