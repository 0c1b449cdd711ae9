import { canOverride, isPaid, type OrderState, type OrderStatus } from './order-state.js';
import type { Decision, Effect, GrantSpec } from './decision.js';

export type OverrideRejection = { ok: false; code: 'SAME_STATUS' | 'REASON_REQUIRED'; message: string };

const TAKES_BACK: readonly OrderStatus[] = ['refunded', 'charged_back', 'canceled', 'failed'];

/**
 * An admin moves an order to a chosen status. It goes through the same effects as an automatic
 * change: an audit row, a grant when the order becomes paid, a full revocation when a paid order
 * is moved to a status that takes the money back. `at` is the admin's clock (epoch seconds).
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
  if (becomesPaid) effects.push({ type: 'grant', grant: ctx.grant });
  if (isPaid(order.status) && TAKES_BACK.includes(to)) {
    effects.push({
      type: 'revoke',
      grant: ctx.grant,
      creditsRevoked: ctx.grant.kind === 'credits' ? ctx.grant.credits : 0,
      reason: to === 'charged_back' ? 'chargeback' : 'refund',
    });
  }
  const next: OrderState = {
    ...order,
    status: to,
    paidAt: becomesPaid && order.paidAt === null ? ctx.at : order.paidAt,
    reviewReason: to === 'needs_review' ? reason : null,
  };
  return { ok: true, decision: { outcome: 'applied', next, effects, rejection: null } };
}
