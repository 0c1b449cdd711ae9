import { randomUUID } from 'node:crypto';
import {
  findStripeCustomer,
  findSubscriptionCheckoutBlock,
  enqueueOrderUpdated,
  insertOrder,
  insertTransition,
  lockEntitlementRow,
  lockOrder,
  saveStripeCustomer,
  updateOrder,
  type Trx,
} from '@settle/db';
import type Stripe from 'stripe';
import type { Handler } from '@settle/payments-core';
import type { AppDeps } from '../app-deps.js';
import { errorMessage } from '../lib/errors.js';
import { toOrderState } from './order.mapper.js';
import type { Product } from './product-catalogue.js';
import { readOrderDto } from './order-view.js';
import { initialShadowState } from './shadow-state.js';
import { applyOrderCommand, reportOrderChange } from './order-command.js';

export type CheckoutResult =
  | { ok: true; orderId: string; checkoutSessionId: string; url: string }
  | { ok: false; code: 'NOT_FOUND' | 'PRECONDITION' | 'UNAVAILABLE' | 'INVALID' | 'CONFLICT'; message: string };

/** How long an unpaid subscription checkout keeps the user from opening another for the same plan. */
export const OPEN_SUBSCRIPTION_CHECKOUT_MINUTES = 60;

/** Thrown inside `openOrder`'s transaction to roll it back; `createCheckout` answers it as CONFLICT. */
class CheckoutRefused extends Error {
  override name = 'CheckoutRefused';
}

async function stripeCustomerFor(deps: AppDeps, userId: string): Promise<string> {
  const known = await findStripeCustomer(deps.database.db, userId);
  if (known) return known;
  const customer = await deps.stripe!.customers.create(
    { metadata: { userId } },
    // Two concurrent first checkouts of one user create one customer.
    { idempotencyKey: `settle-customer-${userId}` },
  );
  return saveStripeCustomer(deps.database.db, userId, customer.id);
}

/**
 * Insert a new pending order under the handler the flag chooses for this user (and, in shadow
 * mode, the new handler's own copy of it), with its first audit row. The choice is stored on the
 * order, so a later flag change never moves a payment from one handler to the other.
 */
export async function openOrder(
  deps: AppDeps,
  o: {
    userId: string;
    product: Product;
    quantity: number;
    stripeCustomerId: string | null;
    orderId?: string;
    /** Runs first in the inserting transaction; a throw leaves no order behind. */
    guard?: (trx: Trx) => Promise<void>;
  },
): Promise<{ orderId: string; handler: Handler; shadow: boolean }> {
  const orderId = o.orderId ?? randomUUID();
  const { handler, shadow, basis } = await deps.chooseHandler(o.userId);
  await deps.database.db.transaction().execute(async (trx) => {
    await o.guard?.(trx);
    const row = await insertOrder(trx, {
      mode: o.product.mode,
      id: orderId,
      user_id: o.userId,
      product_id: o.product.id,
      quantity: o.quantity,
      amount: o.product.amount * o.quantity,
      currency: o.product.currency,
      status: 'pending',
      handler,
      stripe_customer_id: o.stripeCustomerId,
    });
    if (shadow) await updateOrder(trx, orderId, { shadow_state: JSON.stringify(initialShadowState(toOrderState(row))) });
    await insertTransition(trx, {
      order_id: orderId, from_status: null, to_status: 'pending', cause: 'system', event_id: null,
      actor: `user:${o.userId}`, reason: `checkout created (${handler} handler${shadow ? ', new handler in shadow' : ''})`, stripe_at: null,
    });
    // The host hears of an order from its first status on, as of every later one.
    await enqueueOrderUpdated(trx, await readOrderDto(trx, row));
  });
  // Counted once the order exists: a checkout its guard refused chose nothing.
  deps.metrics.handlerChoices.inc({ handler, shadow: String(shadow), basis });
  return { orderId, handler, shadow };
}

/**
 * Create an order and its Stripe Checkout Session. The order exists (pending, with its handler)
 * before Stripe hears of it, so an early webhook always finds it or is retried until it does.
 */
export async function createCheckout(deps: AppDeps, userId: string, product: Product, quantity: number): Promise<CheckoutResult> {
  if (!deps.stripe) return { ok: false, code: 'PRECONDITION', message: 'Stripe is not configured on this server' };
  const subscription = product.mode === 'subscription';
  if (subscription && quantity !== 1) return { ok: false, code: 'INVALID', message: `a plan (${product.id}) is bought one at a time` };
  let customerId: string;
  try {
    customerId = await stripeCustomerFor(deps, userId);
  } catch (err) {
    // A first checkout makes the user's Stripe customer first; Stripe down is "try again", and no order exists yet.
    deps.logger.error({ userId, err: errorMessage(err) }, 'Stripe customer creation failed');
    return { ok: false, code: 'UNAVAILABLE', message: 'payment provider unavailable; try again' };
  }
  let orderId: string;
  try {
    ({ orderId } = await openOrder(deps, {
      userId,
      product,
      quantity,
      stripeCustomerId: customerId,
      ...(subscription ? { guard: (trx: Trx) => refuseSecondSubscription(deps, trx, userId, product) } : {}),
    }));
  } catch (err) {
    if (err instanceof CheckoutRefused) return { ok: false, code: 'CONFLICT', message: err.message };
    throw err;
  }

  const base = deps.env.PUBLIC_URL.replace(/\/$/, '');
  const common = {
    customer: customerId,
    client_reference_id: userId,
    metadata: { orderId, userId, productId: product.id },
    success_url: deps.env.CHECKOUT_SUCCESS_URL ?? `${base}/checkout/success?orderId=${orderId}`,
    cancel_url: deps.env.CHECKOUT_CANCEL_URL ?? `${base}/checkout/cancel?orderId=${orderId}`,
  };
  const productData = { name: product.name };
  const params: Stripe.Checkout.SessionCreateParams = subscription
    ? {
        ...common,
        mode: 'subscription',
        line_items: [
          product.stripePriceId
            ? { price: product.stripePriceId, quantity }
            : { price_data: { currency: product.currency, unit_amount: product.amount, product_data: productData, recurring: { interval: 'month' } }, quantity },
        ],
        // Subscription events and (through `parent.subscription_details`) its invoices carry this;
        // subscriptions always invoice, so there is no `invoice_creation`.
        subscription_data: {
          metadata: { orderId, userId, productId: product.id },
          ...(product.trialDays ? { trial_period_days: product.trialDays } : {}),
        },
      }
    : {
        ...common,
        mode: 'payment',
        line_items: [
          product.stripePriceId
            ? { price: product.stripePriceId, quantity }
            : { price_data: { currency: product.currency, unit_amount: product.amount, product_data: productData }, quantity },
        ],
        payment_intent_data: { metadata: { orderId, userId } },
        invoice_creation: { enabled: true, invoice_data: { metadata: { orderId } } },
      };
  try {
    const session = await deps.stripe.checkout.sessions.create(params, { idempotencyKey: `settle-checkout-${orderId}` });
    await deps.database.db.transaction().execute(async (trx) => {
      await lockOrder(trx, orderId);
      await updateOrder(trx, orderId, { checkout_session_id: session.id });
    });
    if (!session.url) throw new Error('Stripe returned a Checkout Session without a URL');
    return { ok: true, orderId, checkoutSessionId: session.id, url: session.url };
  } catch (err) {
    deps.logger.error({ orderId, err: errorMessage(err) }, 'checkout session creation failed');
    await cancelUnopenedCheckout(deps, orderId, err);
    return { ok: false, code: 'UNAVAILABLE', message: 'payment provider unavailable; try again' };
  }
}

/**
 * Stripe refused or never answered the Checkout Session: the order can never be paid, so it is
 * canceled through the one order use case (audit row, shadow copy, the host's `order.updated`),
 * unless a session was made after all (an answer lost on the way back is linked by its webhooks).
 */
async function cancelUnopenedCheckout(deps: AppDeps, orderId: string, err: unknown): Promise<void> {
  const source = { cause: 'system', actor: 'settle', eventId: null, stripeAt: null } as const;
  const change = await deps.database.db.transaction().execute(async (trx) => {
    const row = await lockOrder(trx, orderId);
    if (row?.status !== 'pending' || row.checkout_session_id) return null;
    const r = await applyOrderCommand(
      trx,
      { orderId },
      { kind: 'stripe', command: { type: 'payment_canceled', paymentIntentId: null, reason: `checkout session could not be created: ${errorMessage(err)}` } },
      { at: Math.floor(Date.now() / 1000), catalogue: deps.catalogue, logger: deps.logger },
      source,
    );
    return r.status === 'decided' ? r : null;
  });
  if (change) {
    reportOrderChange(deps.metrics, deps.logger, change, source);
    deps.hostWebhooks?.wake();
  }
}

/**
 * One subscription per plan: refuse a checkout while the user has a subscription to the plan
 * that is not canceled, or a checkout for it still under way. Runs under the user's entitlement
 * lock inside the order's transaction, so two concurrent checkouts cannot both pass.
 */
async function refuseSecondSubscription(deps: AppDeps, trx: Trx, userId: string, product: Product): Promise<void> {
  if (!('plan' in product.grant)) return;
  const plan = product.grant.plan;
  await lockEntitlementRow(trx, userId);
  const productIds = deps.catalogue.list().filter((p) => p.mode === 'subscription' && 'plan' in p.grant && p.grant.plan === plan).map((p) => p.id);
  const block = await findSubscriptionCheckoutBlock(trx, { userId, plan, productIds, openMinutes: OPEN_SUBSCRIPTION_CHECKOUT_MINUTES });
  if (!block) return;
  throw new CheckoutRefused(
    block.kind === 'subscription'
      ? `you already have a ${plan} subscription (${block.subscriptionId}, ${block.status}); manage it instead of starting another`
      : `a ${plan} checkout is already under way (order ${block.orderId}, ${block.status}); finish or wait for it`,
  );
}
