import { canOverride, isPaid, type OrderState, type OrderStatus } from './order-state.js';
import type { Decision, Effect, GrantSpec } from './decision.js';
import { creditsToRevoke } from './decide-common.js';

export type OverrideRejection = { ok: false; code: 'SAME_STATUS' | 'REASON_REQUIRED'; message: string };

const TAKES_BACK: readonly OrderStatus[] = ['refunded', 'charged_back', 'canceled', 'failed'];

/**
 * An admin moves an order to a chosen status. It goes through the same effects as an automatic
 * change (an audit row, grants given, taken or given back), decided by where the order goes, not by
 * where it comes from: an order parked for review may or may not hold its grant (parked unpaid, or
 * parked by an admin after it was granted), and the effects are idempotent (a grant is given once,
 * a revocation or restoration brings the grant to a total), so each is safe whatever was done before.
 * - `succeeded`: paid in full and kept: the grant is given, or given back whole if a refund or a
 *   chargeback took it.
 * - a status that takes the money back (refunded, charged back, canceled, failed): nothing is
 *   granted, and whatever was granted is taken back.
 * - a paid status in between (partially refunded, disputed) reached from an unpaid one: the grant
 *   is given, as when the payment confirmed. Partially refunded, with refunds recorded: the
 *   refunded share of the grant is taken back (an admin who says the money was kept in full
 *   chooses `succeeded`, e.g. after refunding what was overpaid).
 * - anything else (pending, processing, requires action, needs review): grants stay as they are.
 * `at` is the admin's clock (epoch seconds).
 */
export function decideOverride(
  order: OrderState,
  to: OrderStatus,
  reason: string,
  ctx: { at: number; grant: GrantSpec },
): { ok: true; decision: Decision } | OverrideRejection {
  if (reason.trim().length === 0) return { ok: false, code: 'REASON_REQUIRED', message: 'an override needs a reason' };
  if (!canOverride(order.status, to)) return { ok: false, code: 'SAME_STATUS', message: `order is already ${to}` };
  const effects: Effect[] = [{ type: 'audit', from: order.status, to, reason }];
  const becomesPaid = !isPaid(order.status) && isPaid(to);
  if (to === 'succeeded') {
    effects.push({ type: 'grant', grant: ctx.grant }, { type: 'restore', grant: ctx.grant, creditsRevoked: 0, reason: 'override' });
  } else if (TAKES_BACK.includes(to)) {
    effects.push({
      type: 'revoke',
      grant: ctx.grant,
      creditsRevoked: ctx.grant.kind === 'credits' ? ctx.grant.credits : 0,
      reason: to === 'charged_back' ? 'chargeback' : 'refund',
    });
  } else if (becomesPaid) {
    effects.push({ type: 'grant', grant: ctx.grant });
  }
  // Partially refunded, with refunds Stripe reported (kept while the order was in review): the
  // grant ends at what was kept, the refunded share taken back as a refund would (the policy of
  // the product decides how much). Idempotent: a revocation brings the grant to a total.
  const share = to === 'partially_refunded' && order.amountRefunded > 0 ? creditsToRevoke(ctx.grant, order, Math.min(order.amountRefunded, order.amount)) : 0;
  if (share > 0) effects.push({ type: 'revoke', grant: ctx.grant, creditsRevoked: share, reason: 'refund' });
  const next: OrderState = {
    ...order,
    status: to,
    paidAt: becomesPaid && order.paidAt === null ? ctx.at : order.paidAt,
    reviewReason: to === 'needs_review' ? reason : null,
  };
  return { ok: true, decision: { outcome: 'applied', next, effects, rejection: null } };
}
