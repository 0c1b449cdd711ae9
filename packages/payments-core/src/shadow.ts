import { isPaid, type OrderState, type OrderStatus } from './order-state.js';
import { decideWith } from './decide.js';
import type { DecideContext, Decision } from './decision.js';
import type { PaymentCommand } from './payment-command.js';

export type DisagreementKind =
  /** Legacy grants on a Checkout completion whose money has not moved (async methods). */
  | 'legacy_confirms_unpaid_session'
  /** Legacy has granted, the new handler sees the payment fail or be canceled. */
  | 'legacy_paid_new_failed'
  /** One handler parks the order for review, the other does not. */
  | 'review_differs';

export type Disagreement = {
  kind: DisagreementKind;
  legacyStatus: OrderStatus;
  newStatus: OrderStatus;
  legacyOutcome: Decision['outcome'];
  newOutcome: Decision['outcome'];
};

export type ShadowDecision = {
  /** Authoritative: the legacy handler's decision, which is carried out. */
  decision: Decision;
  /** The new handler's decision on its own shadow copy of the order; recorded only. */
  shadow: Decision;
  disagreement: Disagreement | null;
};

const grants = (d: Decision) => d.effects.some((e) => e.type === 'grant');

/**
 * Shadow mode: the legacy handler stays authoritative while the new handler decides the same
 * command against its own copy of the order; where the two would part ways, say how.
 */
export function decideShadow(
  legacyOrder: OrderState,
  shadowOrder: OrderState,
  command: PaymentCommand,
  ctx: DecideContext,
): ShadowDecision {
  const decision = decideWith('legacy', legacyOrder, command, ctx);
  const shadow = decideWith('new', shadowOrder, command, ctx);
  const legacyStatus = decision.next.status;
  const newStatus = shadow.next.status;
  let kind: DisagreementKind | null = null;
  // `unpaid` is money still on its way (async methods); `no_payment_required` is a plan's trial or
  // a free checkout, which the new handler grants too (on the $0 first invoice), not an unpaid session.
  if (grants(decision) && command.type === 'checkout_completed' && command.paymentStatus === 'unpaid' && !isPaid(newStatus)) {
    kind = 'legacy_confirms_unpaid_session';
  } else if (
    isPaid(legacyStatus) && (newStatus === 'failed' || newStatus === 'canceled') && shadow.outcome === 'applied' &&
    // A failure older than legacy's confirmation is an attempt that failed before the one that
    // paid (a card declined, then accepted), delivered late: both handlers go on to the same end.
    // A failure after it is money legacy counted that did not come (an async method failing).
    (legacyOrder.paidAt === null || ctx.at >= legacyOrder.paidAt)
  ) {
    kind = 'legacy_paid_new_failed';
  } else if (
    // One parks while the other does not hold the order for review. A handler parking an order
    // the other parked on an earlier event is the two agreeing again, not a disagreement.
    (decision.outcome === 'parked' && newStatus !== 'needs_review') ||
    (shadow.outcome === 'parked' && legacyStatus !== 'needs_review')
  ) {
    kind = 'review_differs';
  }
  return {
    decision,
    shadow,
    disagreement: kind
      ? { kind, legacyStatus, newStatus, legacyOutcome: decision.outcome, newOutcome: shadow.outcome }
      : null,
  };
}
