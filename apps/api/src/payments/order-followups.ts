import { enqueueOrderUpdated, recordCustomerEmail, type OrderRow, type Trx } from '@settle/db';
import type { Decision, Disagreement, OrderState, PaymentCommand, ShadowDecision } from '@settle/payments-core';
import type { DecisionSource } from './apply-decision.js';
import { productOfOrder, type Product } from './product-catalogue.js';
import { recordShadowDecision } from './shadow-state.js';
import { afterSubscriptionOrderDecision } from './subscription-lifecycle.js';
import type { ProductCatalogue } from './product-catalogue.js';
import { readOrderDto } from './order-view.js';
import type { OrderUnitOfWork } from './order-unit-of-work.js';

/** A decision just carried out on a locked order, with what the follow-ups need to know. */
export type DecidedOrder = {
  /** The row as locked, before the decision. */
  before: OrderRow;
  /** The row after the decision. */
  order: OrderRow;
  /** The catalogue product of a plan order (its plan changes follow the catalogue); null for a one-time order. */
  product: Product | null;
  /** The Stripe fact decided on; null for an admin override. */
  paymentCommand: PaymentCommand | null;
  /** The e-mail a Checkout Session collected, when the command came from one. */
  customerEmail: string | null;
  decision: Decision;
  shadow: { before: OrderState; decided: ShadowDecision } | null;
  source: DecisionSource;
  at: number;
  catalogue: ProductCatalogue;
  /** A batch's pooled writes; none: written at once. */
  unit?: OrderUnitOfWork | undefined;
};

export type FollowUps = { order: OrderRow; subscriptionChanged: boolean; disagreement: Disagreement | null };

/**
 * The work that follows every order decision, in the same transaction (so it commits or rolls
 * back with the order): the customer's e-mail, the subscription and plan, the shadow copy.
 * Work that must happen exactly when an order changes, atomically with it, belongs here.
 */
export async function afterOrderDecision(trx: Trx, d: DecidedOrder): Promise<FollowUps> {
  const { before, order, decision } = d;
  if (d.customerEmail && !before.customer_email) {
    if (d.unit) d.unit.recordCustomerEmail(order.id, d.customerEmail);
    else await recordCustomerEmail(trx, order.id, d.customerEmail);
  }
  const sub = before.mode === 'subscription'
    ? await afterSubscriptionOrderDecision(trx, { catalogue: d.catalogue }, before, d.product ?? productOfOrder(d.catalogue, before), d.paymentCommand, d.at, d.source)
    : null;
  const disagreement =
    d.shadow && (await recordShadowDecision(trx, order.id, d.source.eventId, d.shadow.before, d.shadow.decided))
      ? d.shadow.decided.disagreement
      : null;
  // The host app hears of every status change from the outbox, committed with the change itself.
  if (order.status !== before.status) {
    if (d.unit) d.unit.orderUpdated(order);
    else await enqueueOrderUpdated(trx, await readOrderDto(trx, order));
  }
  return { order, subscriptionChanged: !!sub?.changed, disagreement };
}
