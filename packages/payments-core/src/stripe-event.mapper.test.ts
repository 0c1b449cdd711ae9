import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkoutEmailOf, HANDLED_EVENT_TYPES, isForeignPaymentIntent, mapStripeEvent, type StripeEventLike } from './stripe-event.mapper.js';
import { idOf } from './stripe-fields.js';

// Objects trimmed from Stripe's fixtures (/work/shared/stripe-fixtures), values set for the scenario.
const CS = 'cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY';
const PI = 'pi_1PgafyB7WZ01zgkWSjxsAJo3';
const META = { orderId: 'ord_1' };

const session = (patch: Record<string, unknown> = {}) => ({
  id: CS, object: 'checkout.session', mode: 'payment', status: 'complete', payment_status: 'paid',
  payment_intent: PI, amount_subtotal: 2000, amount_total: 2000, currency: 'usd', metadata: META,
  customer: null, customer_details: { email: 'example@example.com' }, payment_method_types: ['card'],
  created: 1721948530, expires_at: 1722034930, livemode: false, ...patch,
});
const intent = (patch: Record<string, unknown> = {}) => ({
  id: PI, object: 'payment_intent', amount: 2000, amount_received: 2000, currency: 'usd', status: 'succeeded',
  metadata: META, last_payment_error: null, cancellation_reason: null, capture_method: 'automatic',
  latest_charge: 'ch_1PgafuB7WZ01zgkWXYmPNZs8', payment_method_types: ['card'], created: 1721948530, livemode: false,
  ...patch,
});
const charge = (patch: Record<string, unknown> = {}) => ({
  id: 'ch_1PgafuB7WZ01zgkWXYmPNZs8', object: 'charge', amount: 2000, amount_captured: 2000, amount_refunded: 2000,
  currency: 'usd', paid: true, refunded: true, captured: true, status: 'succeeded', payment_intent: PI, metadata: {},
  refunds: { object: 'list', data: [], has_more: false }, created: 1721948530, livemode: false, ...patch,
});
const dispute = (patch: Record<string, unknown> = {}) => ({
  id: 'dp_1Pgc71B7WZ01zgkWMevJiAUx', object: 'dispute', amount: 2000, charge: 'ch_1PgafuB7WZ01zgkWXYmPNZs8',
  currency: 'usd', payment_intent: PI, reason: 'fraudulent', status: 'needs_response', metadata: {},
  is_charge_refundable: false, created: 1721948530, livemode: false, ...patch,
});
const invoice = (patch: Record<string, unknown> = {}) => ({
  id: 'in_1Pgc6tB7WZ01zgkWu9fdqL6I', object: 'invoice', number: 'A1B2C3-0001', status: 'paid',
  hosted_invoice_url: 'https://invoice.stripe.com/i/acct_1/test', invoice_pdf: 'https://pay.stripe.com/invoice/acct_1/test/pdf',
  amount_due: 2000, amount_paid: 2000, amount_remaining: 0, currency: 'usd', customer: 'cus_QXg1o8vcGmoR32',
  metadata: META, created: 1721948530, status_transitions: { finalized_at: 1721948531, paid_at: 1721948532, voided_at: null },
  parent: { type: 'subscription_details', subscription_details: { metadata: null, subscription: 'sub_1' } },
  ...patch,
});

const event = (type: string, object: unknown): StripeEventLike => ({
  id: 'evt_1Pgc76B7WZ01zgkWwyRHS12y', type, created: 1721948540, data: { object },
});

const sessionRef = { orderId: 'ord_1', checkoutSessionId: CS, paymentIntentId: PI };
const intentRef = { orderId: 'ord_1', checkoutSessionId: null, paymentIntentId: PI };
const piOnlyRef = { orderId: null, checkoutSessionId: null, paymentIntentId: PI };

describe('mapStripeEvent: supported events', () => {
  it.each([
    ['checkout.session.completed', session(), sessionRef,
      { type: 'checkout_completed', checkoutSessionId: CS, paymentIntentId: PI, paymentStatus: 'paid', amount: 2000, currency: 'usd' }],
    ['checkout.session.completed', session({ payment_status: 'unpaid', payment_intent: null, amount_total: null, metadata: {} }),
      { orderId: null, checkoutSessionId: CS, paymentIntentId: null },
      { type: 'checkout_completed', checkoutSessionId: CS, paymentIntentId: null, paymentStatus: 'unpaid', amount: null, currency: 'usd' }],
    ['checkout.session.completed', session({ payment_intent: { id: PI, object: 'payment_intent' }, payment_status: 'no_payment_required' }), sessionRef,
      { type: 'checkout_completed', checkoutSessionId: CS, paymentIntentId: PI, paymentStatus: 'no_payment_required', amount: 2000, currency: 'usd' }],
    ['checkout.session.async_payment_succeeded', session(), sessionRef,
      { type: 'checkout_async_succeeded', checkoutSessionId: CS, paymentIntentId: PI }],
    ['checkout.session.async_payment_failed', session({ payment_status: 'unpaid' }), sessionRef,
      { type: 'payment_failed', paymentIntentId: PI, reason: 'async_payment_failed' }],
    ['checkout.session.expired', session({ status: 'expired', payment_status: 'unpaid', payment_intent: null }),
      { ...sessionRef, paymentIntentId: null }, { type: 'checkout_expired', checkoutSessionId: CS }],
    ['payment_intent.created', intent({ status: 'requires_payment_method', amount_received: 0 }), intentRef,
      { type: 'payment_created', paymentIntentId: PI }],
    ['payment_intent.processing', intent({ status: 'processing', amount_received: 0 }), intentRef,
      { type: 'payment_processing', paymentIntentId: PI }],
    ['payment_intent.requires_action', intent({ status: 'requires_action', amount_received: 0 }), intentRef,
      { type: 'payment_requires_action', paymentIntentId: PI }],
    ['payment_intent.succeeded', intent({ amount: 2500 }), intentRef,
      { type: 'payment_succeeded', paymentIntentId: PI, amount: 2000, currency: 'usd' }],
    ['payment_intent.succeeded', intent({ amount_received: undefined }), intentRef,
      { type: 'payment_succeeded', paymentIntentId: PI, amount: 2000, currency: 'usd' }],
    ['payment_intent.payment_failed', intent({ status: 'requires_payment_method',
      last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' } }),
      intentRef, { type: 'payment_failed', paymentIntentId: PI, reason: 'insufficient_funds' }],
    ['payment_intent.payment_failed', intent({ last_payment_error: { type: 'card_error', code: 'expired_card' } }), intentRef,
      { type: 'payment_failed', paymentIntentId: PI, reason: 'expired_card' }],
    ['payment_intent.payment_failed', intent({ last_payment_error: null }), intentRef,
      { type: 'payment_failed', paymentIntentId: PI, reason: 'payment_failed' }],
    ['payment_intent.canceled', intent({ status: 'canceled', cancellation_reason: 'abandoned' }), intentRef,
      { type: 'payment_canceled', paymentIntentId: PI, reason: 'abandoned' }],
    ['payment_intent.canceled', intent({ status: 'canceled' }), intentRef,
      { type: 'payment_canceled', paymentIntentId: PI, reason: 'canceled' }],
    ['charge.refunded', charge({ amount_refunded: 500, refunded: false }), piOnlyRef,
      { type: 'charge_refunded', paymentIntentId: PI, amountRefunded: 500, currency: 'usd' }],
    ['charge.refunded', charge({ payment_intent: { id: PI, object: 'payment_intent' }, metadata: META }), intentRef,
      { type: 'charge_refunded', paymentIntentId: PI, amountRefunded: 2000, currency: 'usd' }],
    ['charge.dispute.created', dispute(), piOnlyRef,
      { type: 'dispute_opened', paymentIntentId: PI, disputeId: 'dp_1Pgc71B7WZ01zgkWMevJiAUx', amount: 2000 }],
    ['charge.dispute.closed', dispute({ status: 'won' }), piOnlyRef,
      { type: 'dispute_closed', paymentIntentId: PI, disputeId: 'dp_1Pgc71B7WZ01zgkWMevJiAUx', outcome: 'won' }],
    ['charge.dispute.closed', dispute({ status: 'warning_closed' }), piOnlyRef,
      { type: 'dispute_closed', paymentIntentId: PI, disputeId: 'dp_1Pgc71B7WZ01zgkWMevJiAUx', outcome: 'won' }],
    ['charge.dispute.closed', dispute({ status: 'prevented' }), piOnlyRef,
      { type: 'dispute_closed', paymentIntentId: PI, disputeId: 'dp_1Pgc71B7WZ01zgkWMevJiAUx', outcome: 'prevented' }],
    // Dispute prevention (2025-08-27.basil): created already stopped, it never opens.
    ['charge.dispute.created', dispute({ status: 'prevented' }), piOnlyRef,
      { type: 'dispute_closed', paymentIntentId: PI, disputeId: 'dp_1Pgc71B7WZ01zgkWMevJiAUx', outcome: 'prevented' }],
    ['charge.dispute.closed', dispute({ status: 'lost' }), piOnlyRef,
      { type: 'dispute_closed', paymentIntentId: PI, disputeId: 'dp_1Pgc71B7WZ01zgkWMevJiAUx', outcome: 'lost' }],
  ])('%s → command', (type, object, ref, command) => {
    expect(mapStripeEvent(event(type, object))).toEqual({ supported: true, ref, command });
  });

  it.each(['invoice.paid', 'invoice.finalized'])('%s → invoice_recorded', (type) => {
    expect(mapStripeEvent(event(type, invoice()))).toEqual({
      supported: true,
      ref: { orderId: 'ord_1', checkoutSessionId: null, paymentIntentId: null },
      command: {
        type: 'invoice_recorded',
        invoice: {
          invoiceId: 'in_1Pgc6tB7WZ01zgkWu9fdqL6I', number: 'A1B2C3-0001', status: 'paid',
          hostedInvoiceUrl: 'https://invoice.stripe.com/i/acct_1/test', invoicePdf: 'https://pay.stripe.com/invoice/acct_1/test/pdf',
          amountDue: 2000, amountPaid: 2000, currency: 'usd', subscriptionId: 'sub_1',
          billingReason: null, periodStart: null, periodEnd: null, priceId: null, paymentIntentId: null, chargeId: null, attemptCount: 0,
          createdAt: 1721948530, finalizedAt: 1721948531, paidAt: 1721948532,
        },
      },
    });
  });

  it('reads the legacy top-level invoice.subscription first', () => {
    const m = mapStripeEvent(event('invoice.paid', invoice({ subscription: 'sub_legacy' })));
    expect(m.supported && m.command.type === 'invoice_recorded' && m.command.invoice.subscriptionId).toBe('sub_legacy');
  });
});

describe('mapStripeEvent: unsupported', () => {
  it('reads exactly the types HANDLED_EVENT_TYPES names (a case missing from the list is never reached)', () => {
    const notSupported = (type: string) => {
      const m = mapStripeEvent(event(type, {}));
      return !m.supported && m.reason === `event type ${type} is not supported`;
    };
    expect([...HANDLED_EVENT_TYPES].filter(notSupported)).toEqual([]);
    expect(['customer.deleted', 'product.deleted', 'charge.succeeded', 'invoice.created'].filter((t) => !notSupported(t))).toEqual([]);
  });

  it.each(['plan.created', 'charge.succeeded', 'charge.updated', 'customer.created', 'payment_intent.amount_capturable_updated', ''])(
    'unknown type %j → unsupported',
    (type) => {
      expect(mapStripeEvent(event(type, charge()))).toEqual({ supported: false, reason: expect.any(String) });
    },
  );

  it.each([
    ['checkout.session.completed', session({ mode: 'subscription' })],
    ['checkout.session.completed', session({ mode: 'setup', payment_status: 'no_payment_required' })],
    ['checkout.session.completed', session({ payment_status: 'partially_paid' })],
    ['checkout.session.completed', session({ id: '' })],
    ['checkout.session.async_payment_succeeded', session({ id: null })],
    ['checkout.session.expired', session({ id: 42 })],
    ['payment_intent.created', intent({ id: null })],
    ['payment_intent.succeeded', intent({ currency: null })],
    ['payment_intent.succeeded', intent({ amount: '2000', amount_received: 20.5 })],
    ['charge.refunded', charge({ payment_intent: null })], // as in the fixture: a charge outside a PaymentIntent
    ['charge.refunded', charge({ amount_refunded: '2000' })],
    ['charge.dispute.created', dispute({ payment_intent: null })],
    ['charge.dispute.closed', dispute({ status: 'under_review' })],
    ['charge.dispute.closed', dispute({ id: undefined, status: 'lost' })],
    ['invoice.paid', invoice({ created: undefined })],
    ['invoice.finalized', invoice({ currency: '' })],
  ])('malformed %s → unsupported', (type, object) => {
    expect(mapStripeEvent(event(type, object))).toMatchObject({ supported: false });
  });

  const SUPPORTED_TYPES = [
    'checkout.session.completed', 'checkout.session.async_payment_succeeded', 'checkout.session.async_payment_failed',
    'checkout.session.expired', 'payment_intent.created', 'payment_intent.processing', 'payment_intent.requires_action',
    'payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled', 'charge.refunded',
    'charge.dispute.created', 'charge.dispute.closed', 'invoice.finalized', 'invoice.paid',
  ];

  it.each(SUPPORTED_TYPES)('%s with a non-object or empty object → unsupported', (type) => {
    for (const object of [null, undefined, 'cs_123', 42, [], {}]) {
      expect(mapStripeEvent(event(type, object))).toMatchObject({ supported: false });
    }
  });

  it('never throws, whatever the type and object', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...SUPPORTED_TYPES), fc.string()), fc.anything(), (type, object) => {
        const m = mapStripeEvent(event(type, object));
        expect(typeof m.supported).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});

describe('mapStripeEvent: subscriptions', () => {
  const SUB = 'sub_1PgafmB7WZ01zgkWwyRHS12y';
  const SUB_META = { orderId: 'ord_1', userId: 'user_1' };
  const subscription = (patch: Record<string, unknown> = {}) => ({
    id: SUB, object: 'subscription', customer: 'cus_QXg1o8vcGmoR32', status: 'active', cancel_at_period_end: false, cancel_at: null,
    metadata: SUB_META, created: 1721948530, livemode: false,
    items: { object: 'list', data: [{ id: 'si_1', object: 'subscription_item', current_period_start: 1721948530, current_period_end: 1724540530, price: { id: 'price_pro', object: 'price' } }] },
    ...patch,
  });
  const facts = (patch: Record<string, unknown> = {}) => ({
    subscriptionId: SUB, customerId: 'cus_QXg1o8vcGmoR32', stripeStatus: 'active', cancelAtPeriodEnd: false,
    currentPeriodEnd: 1724540530, cancelAt: null, priceId: 'price_pro', orderId: 'ord_1', userId: 'user_1', trialEnd: null, latestInvoiceId: null, ...patch,
  });
  const subInvoice = (patch: Record<string, unknown> = {}) => invoice({
    metadata: {}, billing_reason: 'subscription_create',
    parent: { type: 'subscription_details', subscription_details: { metadata: SUB_META, subscription: SUB } },
    lines: { object: 'list', data: [{ id: 'il_1', object: 'line_item', period: { start: 1721948530, end: 1724540530 } }] },
    ...patch,
  });
  const subRef = { orderId: 'ord_1', checkoutSessionId: null, paymentIntentId: null };

  it.each([
    ['customer.subscription.created', subscription({ status: 'incomplete' }), facts({ stripeStatus: 'incomplete' })],
    ['customer.subscription.updated', subscription(), facts()],
    ['customer.subscription.updated', subscription({ cancel_at_period_end: true }), facts({ cancelAtPeriodEnd: true })],
    // Newer API versions schedule the cancellation with `cancel_at`.
    ['customer.subscription.updated', subscription({ cancel_at: 1724540530 }), facts({ cancelAtPeriodEnd: true, cancelAt: 1724540530 })],
    // A cancellation before the period's end (Stripe ends it there, prorated).
    ['customer.subscription.updated', subscription({ cancel_at: 1722000000 }), facts({ cancelAtPeriodEnd: true, cancelAt: 1722000000 })],
    // Older API versions: the period on the subscription itself.
    ['customer.subscription.updated', subscription({ items: { object: 'list', data: [] }, current_period_end: 1724540999 }), facts({ currentPeriodEnd: 1724540999, priceId: null })],
    ['customer.subscription.deleted', subscription({ status: 'canceled' }), facts({ stripeStatus: 'canceled' })],
    ['customer.subscription.deleted', subscription({ status: undefined, metadata: {} }), facts({ stripeStatus: 'canceled', orderId: null, userId: null })],
  ])('%s → subscription_changed', (type, object, subscriptionFacts) => {
    const m = mapStripeEvent(event(type, object));
    expect(m).toEqual({
      supported: true,
      ref: { ...subRef, orderId: subscriptionFacts.orderId },
      command: { type: 'subscription_changed', subscription: subscriptionFacts },
    });
  });

  it.each([
    ['invoice.paid', subInvoice(), 'subscription_invoice_paid', 'subscription_create'],
    ['invoice.paid', subInvoice({ billing_reason: 'subscription_cycle' }), 'subscription_invoice_paid', 'subscription_cycle'],
    ['invoice.payment_failed', subInvoice({ status: 'open', amount_paid: 0, billing_reason: 'subscription_cycle' }), 'subscription_invoice_failed', 'subscription_cycle'],
  ])('%s of a subscription → %s, found through the subscription metadata', (type, object, commandType, billingReason) => {
    const m = mapStripeEvent(event(type, object));
    expect(m).toMatchObject({
      supported: true,
      ref: subRef,
      command: { type: commandType, subscriptionId: SUB, billingReason, periodEnd: 1724540530, invoice: { invoiceId: 'in_1Pgc6tB7WZ01zgkWu9fdqL6I', subscriptionId: SUB } },
    });
  });

  it('a subscription or invoice with several items (a plan and add-ons) names every price, in Stripe\'s order', () => {
    const item = (id: string, price: string) => ({ id, object: 'subscription_item', current_period_start: 1721948530, current_period_end: 1724540530, price: { id: price, object: 'price' } });
    const twoItems = subscription({ items: { object: 'list', data: [item('si_seats', 'price_seats'), item('si_1', 'price_pro'), item('si_2', 'price_seats')] } });
    expect(mapStripeEvent(event('customer.subscription.updated', twoItems))).toMatchObject({
      command: { type: 'subscription_changed', subscription: { priceId: 'price_seats', priceIds: ['price_seats', 'price_pro'] } },
    });
    // Basil invoice lines: the price under `pricing`; a proration credit and an older period do not count.
    const line = (id: string, price: string, amount: number, end: number) => ({
      id, object: 'line_item', amount, period: { start: 1721948530, end }, parent: { type: 'subscription_item_details' },
      pricing: { type: 'price_details', price_details: { price, product: 'prod_x' } },
    });
    const lines = [line('il_credit', 'price_hobby', -500, 1724540530), line('il_old', 'price_old', 100, 1721948530), line('il_seats', 'price_seats', 300, 1724540530), line('il_pro', 'price_pro', 2000, 1724540530)];
    expect(mapStripeEvent(event('invoice.paid', subInvoice({ lines: { object: 'list', data: lines } })))).toMatchObject({
      command: { invoice: { priceId: 'price_seats', priceIds: ['price_seats', 'price_pro'], periodEnd: 1724540530 } },
    });
  });

  it('a finalized subscription invoice is recorded against the order in its subscription metadata', () => {
    expect(mapStripeEvent(event('invoice.finalized', subInvoice({ status: 'open' })))).toMatchObject({
      supported: true, ref: subRef, command: { type: 'invoice_recorded' },
    });
  });

  it('a subscription-mode Checkout completion carries its subscription', () => {
    expect(mapStripeEvent(event('checkout.session.completed', session({ mode: 'subscription', subscription: SUB, payment_intent: null })))).toEqual({
      supported: true,
      ref: { ...sessionRef, paymentIntentId: null },
      command: { type: 'checkout_completed', checkoutSessionId: CS, paymentIntentId: null, paymentStatus: 'paid', amount: 2000, currency: 'usd', subscriptionId: SUB },
    });
  });

  it.each([
    ['invoice.payment_failed', invoice()],
    ['payment_intent.succeeded', intent({ metadata: {}, invoice: 'in_1Pgc6tB7WZ01zgkWu9fdqL6I' })],
  ])('%s outside what Settle settles that way → unsupported', (type, object) => {
    expect(mapStripeEvent(event(type, object))).toEqual({ supported: false, reason: expect.any(String) });
  });

  it.each([
    ['customer.subscription.updated', subscription({ status: 'bogus' })],
    ['customer.subscription.updated', subscription({ id: null })],
    ['customer.subscription.created', { object: 'invoice', id: 'in_1' }],
    ['invoice.paid', subInvoice({ currency: null })],
    ['invoice.payment_failed', subInvoice({ id: 7 })],
    ['invoice_payment.paid', { id: 'inpay_1', object: 'invoice_payment', invoice: null, payment: { type: 'payment_intent', payment_intent: 'pi_1' } }],
  ])('a malformed %s is malformed (dead-lettered, not skipped)', (type, object) => {
    expect(mapStripeEvent(event(type, object))).toMatchObject({ supported: false, malformed: true, reason: expect.stringMatching(/^malformed/) });
  });

  it('customer.subscription.trial_will_end is a notice about the subscription', () => {
    const m = mapStripeEvent(event('customer.subscription.trial_will_end', subscription({ status: 'trialing', trial_end: 1722553330 })));
    expect(m).toMatchObject({ supported: true, command: { type: 'subscription_changed', notice: 'trial_will_end', subscription: { stripeStatus: 'trialing', trialEnd: 1722553330 } } });
  });

  it.each([
    ['payment_intent', { type: 'payment_intent', payment_intent: 'pi_9' }, 'pi_9', null],
    ['expanded payment_intent', { type: 'payment_intent', payment_intent: { id: 'pi_9', object: 'payment_intent' } }, 'pi_9', null],
    ['charge (out of band)', { type: 'charge', charge: 'ch_9' }, null, 'ch_9'],
  ])('invoice_payment.paid by %s links the invoice to its money', (_, payment, paymentIntentId, chargeId) => {
    const m = mapStripeEvent(event('invoice_payment.paid', {
      id: 'inpay_1', object: 'invoice_payment', amount_paid: 2000, amount_requested: 2000, currency: 'usd', invoice: 'in_1', is_default: true,
      payment, status: 'paid', status_transitions: { canceled_at: null, paid_at: 1721948532 }, created: 1721948531,
    }));
    expect(m).toEqual({
      supported: true,
      ref: { orderId: null, checkoutSessionId: null, paymentIntentId: null },
      command: { type: 'invoice_payment_linked', invoiceId: 'in_1', invoicePaymentId: 'inpay_1', paymentIntentId, chargeId, paid: true },
    });
  });

  it.each([
    ['current versions: the price on the line pricing, the plan line not the proration credit', {
      billing_reason: 'subscription_update',
      lines: { object: 'list', data: [
        { id: 'il_a', amount: -500, period: { start: 1722000000, end: 1724540530 }, parent: { type: 'subscription_item_details' }, pricing: { price_details: { price: 'price_hobby' } } },
        { id: 'il_b', amount: 1500, period: { start: 1722000000, end: 1724540530 }, parent: { type: 'subscription_item_details' }, pricing: { price_details: { price: 'price_pro' } } },
      ] },
    }, { priceId: 'price_pro', periodStart: 1722000000, periodEnd: 1724540530, paymentIntentId: null, chargeId: null }],
    ['older versions: price, payment_intent and charge on the invoice', {
      subscription: SUB, payment_intent: 'pi_old', charge: 'ch_old', parent: undefined,
      lines: { object: 'list', data: [{ id: 'il_a', type: 'subscription', amount: 2000, period: { start: 1721948530, end: 1724540530 }, price: { id: 'price_pro' } }] },
    }, { priceId: 'price_pro', periodStart: 1721948530, periodEnd: 1724540530, paymentIntentId: 'pi_old', chargeId: 'ch_old', subscriptionId: SUB }],
  ])('reads invoices of %s', (_, patch, expected) => {
    const m = mapStripeEvent(event('invoice.paid', subInvoice(patch)));
    expect(m).toMatchObject({ supported: true, command: { type: 'subscription_invoice_paid', invoice: expected } });
  });

  it('never throws on subscription events, whatever the object', () => {
    const types = ['customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted', 'invoice.payment_failed', 'invoice.paid'];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.anything(), (type, object) => {
        expect(typeof mapStripeEvent(event(type, object)).supported).toBe('boolean');
        expect(typeof mapStripeEvent(event(type, subscription({ items: object, metadata: object }))).supported).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

describe('whose event is it, and what it tells beside the command', () => {
  it('a PaymentIntent without Settle’s order id is foreign; with it, or any other type, is not', () => {
    expect(isForeignPaymentIntent(event('payment_intent.succeeded', intent({ metadata: {} })))).toBe(true);
    expect(isForeignPaymentIntent(event('payment_intent.succeeded', intent({ metadata: null })))).toBe(true);
    expect(isForeignPaymentIntent(event('payment_intent.succeeded', intent()))).toBe(false);
    expect(isForeignPaymentIntent(event('charge.refunded', charge()))).toBe(false);
  });

  it('takes the e-mail a Checkout Session collected, and nothing that is not an address', () => {
    expect(checkoutEmailOf(event('checkout.session.completed', session()))).toBe('example@example.com');
    expect(checkoutEmailOf(event('checkout.session.completed', session({ customer_details: { email: 'nobody' } })))).toBeNull();
    expect(checkoutEmailOf(event('checkout.session.completed', session({ customer_details: null })))).toBeNull();
    expect(checkoutEmailOf(event('payment_intent.succeeded', intent()))).toBeNull();
  });

  it('reads the id of a reference whether Stripe expanded it or not', () => {
    expect(idOf(PI)).toBe(PI);
    expect(idOf({ id: PI, object: 'payment_intent' })).toBe(PI);
    expect(idOf(null)).toBeNull();
    expect(idOf({})).toBeNull();
  });
});
