import { randomUUID } from 'node:crypto';
import {
  findOrderByCheckoutKey,
  findStripeCustomer,
  isCheckoutKeyTaken,
  releaseCheckoutKey,
  findSubscriptionCheckoutBlock,
  hadSubscriptionToPlanBefore,
  enqueueOrderUpdated,
  insertOrder,
  insertTransition,
  lockEntitlementRow,
  lockOrder,
  saveStripeCustomer,
  updateOrder,
  type OrderRow,
  type Trx,
} from '@settle/db';
import type Stripe from 'stripe';
import { isResumable, trialOfferFor, type Handler, type TrialOffer } from '@settle/payments-core';
import type { AppDeps } from '../app-deps.js';
import { errorMessage } from '../lib/errors.js';
import { toOrderState } from './order.mapper.js';
import type { Product } from './product-catalogue.js';
import { readOrderDto } from './order-view.js';
import { initialShadowState } from './shadow-state.js';
import { applyOrderCommand, reportOrderChange } from './order-command.js';

export type CheckoutResult =
  /** `trial`: the plan's free trial this checkout gives, or says it withheld (see `trialOfferFor`); null without one. */
  | { ok: true; orderId: string; checkoutSessionId: string; url: string; trial: TrialOffer | null }
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
    /** The caller's idempotency key (`checkout.create {idempotencyKey}`), unique per user. */
    checkoutKey?: string;
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
      // What it grants as sold today: later refunds and disputes take back by this, whatever the catalogue becomes.
      grant_spec: JSON.stringify(deps.catalogue.grantFor(o.product, o.quantity)),
      ...(o.checkoutKey ? { checkout_key: o.checkoutKey } : {}),
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

/** How long a checkout's first call may still be making its session: a repeat meanwhile is told to wait. */
const SESSION_IN_FLIGHT_MS = 60_000;

/**
 * Create an order and its Stripe Checkout Session. The order exists (pending, with its handler)
 * before Stripe hears of it, so an early webhook always finds it or is retried until it does.
 *
 * With the caller's `idempotencyKey` (a repeat is answered by `repeatedCheckout` first), the
 * order carries the key; a second call with it racing this one gets this order.
 */
export async function createCheckout(deps: AppDeps, userId: string, product: Product, quantity: number, idempotencyKey?: string): Promise<CheckoutResult> {
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
      ...(idempotencyKey ? { checkoutKey: idempotencyKey } : {}),
      ...(subscription ? { guard: (trx: Trx) => refuseSecondSubscription(deps, trx, userId, product) } : {}),
    }));
  } catch (err) {
    if (err instanceof CheckoutRefused) return { ok: false, code: 'CONFLICT', message: err.message };
    // Two calls with one key at once: the other opened the order.
    if (idempotencyKey && isCheckoutKeyTaken(err)) {
      const repeat = await repeatedCheckout(deps, userId, idempotencyKey, product, quantity);
      if (repeat) return repeat;
    }
    throw err;
  }
  const opened = await openSession(deps, { orderId, userId, product, quantity, customerId });
  if (!opened.ok) await cancelUnopenedCheckout(deps, orderId, opened.error);
  return opened.ok ? opened.result : { ok: false, code: 'UNAVAILABLE', message: 'payment provider unavailable; try again' };
}

/**
 * The answer to a repeated `checkout.create` with this key, or null when the key opened nothing
 * yet (or its first call's checkout could never be opened: the key is freed for this one). Asked
 * before `createCheckout`: a repeat is not a new checkout (no rate limit, no open-orders cap).
 */
export async function repeatedCheckout(deps: AppDeps, userId: string, key: string, product: Product, quantity: number): Promise<CheckoutResult | null> {
  if (!deps.stripe) return { ok: false, code: 'PRECONDITION', message: 'Stripe is not configured on this server' };
  const db = deps.database.db;
  const first = await findOrderByCheckoutKey(db, userId, key);
  if (!first) return null;
  if (first.product_id !== product.id || Number(first.quantity) !== quantity) {
    return { ok: false, code: 'CONFLICT', message: `idempotencyKey ${key} was used for another checkout (${first.product_id} × ${first.quantity}); use a new key for a new checkout` };
  }
  if (first.checkout_session_id) return answerFromSession(deps, first, first.checkout_session_id, product);
  if (first.status !== 'pending') {
    // Stripe refused its session: that call answered an error, and a retry is a new attempt.
    await releaseCheckoutKey(db, first.id);
    return null;
  }
  if (Date.now() - new Date(first.created_at).getTime() < SESSION_IN_FLIGHT_MS) {
    return { ok: false, code: 'CONFLICT', message: 'this checkout is still being opened; try again in a moment' };
  }
  // Its first call died before linking a session: open it now (Stripe's idempotency key is the
  // order's, so a session Stripe made for that call is the one returned).
  const opened = await openSession(deps, { orderId: first.id, userId, product, quantity, customerId: first.stripe_customer_id! });
  return opened.ok ? opened.result : { ok: false, code: 'UNAVAILABLE', message: 'payment provider unavailable; try again' };
}

/** The first call's answer: its session's URL as recorded, else as Stripe has it (closed sessions have none). */
async function answerFromSession(deps: AppDeps, order: OrderRow, sessionId: string, product: Product): Promise<CheckoutResult> {
  const trial = await trialOfferOf(deps, { orderId: order.id, userId: order.user_id, product });
  if (order.checkout_url) return { ok: true, orderId: order.id, checkoutSessionId: sessionId, url: order.checkout_url, trial };
  let url: string | null;
  try {
    url = (await deps.stripe!.checkout.sessions.retrieve(sessionId)).url;
  } catch (err) {
    deps.logger.warn({ orderId: order.id, err: errorMessage(err) }, 'Checkout Session lookup failed');
    return { ok: false, code: 'UNAVAILABLE', message: 'payment provider unavailable; try again' };
  }
  if (!url) return { ok: false, code: 'CONFLICT', message: `the checkout of this idempotencyKey is closed (order ${order.id} is ${order.status}); use a new key for a new checkout` };
  return { ok: true, orderId: order.id, checkoutSessionId: sessionId, url, trial };
}

/** Every catalogue product that sells the plan (a monthly and a yearly price, say). */
function planProductIds(deps: AppDeps, plan: string): string[] {
  return deps.catalogue.list().filter((p) => p.mode === 'subscription' && 'plan' in p.grant && p.grant.plan === plan).map((p) => p.id);
}

/**
 * The free trial an order's checkout gives: the product's, once per customer and plan. Asked the
 * same way for the first call and any repeat, so both answer (and ask Stripe for) the same trial.
 */
async function trialOfferOf(deps: AppDeps, o: { orderId: string; userId: string; product: Product }): Promise<TrialOffer | null> {
  const { product } = o;
  if (!product.trialDays || !('plan' in product.grant)) return trialOfferFor(product.trialDays, false);
  const plan = product.grant.plan;
  const productIds = planProductIds(deps, plan);
  const hadPlan = await hadSubscriptionToPlanBefore(deps.database.db, { userId: o.userId, plan, productIds, orderId: o.orderId });
  return trialOfferFor(product.trialDays, hadPlan);
}

/** Ask Stripe for the order's Checkout Session (idempotent per order) and link it to the order with its URL. */
async function openSession(
  deps: AppDeps,
  o: { orderId: string; userId: string; product: Product; quantity: number; customerId: string },
): Promise<{ ok: true; result: CheckoutResult } | { ok: false; error: unknown }> {
  const { orderId, userId, product, quantity, customerId } = o;
  let trial: TrialOffer | null;
  try {
    trial = product.mode === 'subscription' ? await trialOfferOf(deps, { orderId, userId, product }) : null;
  } catch (err) {
    deps.logger.error({ orderId, err: errorMessage(err) }, 'trial eligibility lookup failed');
    return { ok: false, error: err };
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
  const params: Stripe.Checkout.SessionCreateParams = product.mode === 'subscription'
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
          // One trial per customer and plan: a returning customer pays from day one.
          ...(trial?.offered ? { trial_period_days: trial.days } : {}),
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
    const session = await deps.stripe!.checkout.sessions.create(params, { idempotencyKey: `settle-checkout-${orderId}` });
    if (!session.url) throw new Error('Stripe returned a Checkout Session without a URL');
    await deps.database.db.transaction().execute(async (trx) => {
      await lockOrder(trx, orderId);
      await updateOrder(trx, orderId, { checkout_session_id: session.id, checkout_url: session.url });
    });
    if (trial && !trial.offered) deps.logger.info({ orderId, userId, productId: product.id }, 'free trial not offered again: the user had this plan before');
    return { ok: true, result: { ok: true, orderId, checkoutSessionId: session.id, url: session.url, trial } };
  } catch (err) {
    deps.logger.error({ orderId, err: errorMessage(err) }, 'checkout session creation failed');
    return { ok: false, error: err };
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
  const productIds = planProductIds(deps, plan);
  const block = await findSubscriptionCheckoutBlock(trx, { userId, plan, productIds, openMinutes: OPEN_SUBSCRIPTION_CHECKOUT_MINUTES });
  if (!block) return;
  if (block.kind === 'order') throw new CheckoutRefused(`a ${plan} checkout is already under way (order ${block.orderId}, ${block.status}); finish or wait for it`);
  // Unpaid, past due or paused: paying what is owed brings the plan back, a second subscription would not.
  throw new CheckoutRefused(
    isResumable(block.status)
      ? `you already have a ${plan} subscription (${block.subscriptionId}, ${block.status}); pay what is owed with billing.resume {plan: "${plan}"} instead of starting another`
      : `you already have a ${plan} subscription (${block.subscriptionId}, ${block.status}); manage it instead of starting another`,
  );
}
