import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_BACKENDS } from '@settle/db/testing';
import { insertOrder } from '@settle/db';
import { journeyEvents, type StripeEvent, type StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutAs, orderState, send, startApiWithSimulator, type TestApi, waitForInbox } from './harness.js';

/**
 * Real Stripe event payloads other open-source projects publish as test fixtures (the folder's
 * SOURCES.md names each one's project and licence), through the whole path: signed
 * `POST /webhooks/stripe`, the inbox, the mapper and the order use case. First as published
 * (about objects Settle never created), then linked to a Settle order: only the ids that name the
 * order (event id, `metadata.orderId`, the Checkout Session or PaymentIntent id) are rewritten,
 * the rest of Stripe's shape is kept as it was published.
 */
const DIR = join(import.meta.dirname, '..', '..', '..', 'packages', 'payments-core', 'test-fixtures', 'stripe-events');
type Obj = Record<string, unknown>;
const FIXTURES: { file: string; event: StripeEvent }[] = readdirSync(DIR, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, event: JSON.parse(readFileSync(join(DIR, file), 'utf8')) as StripeEvent }));

const fixture = (file: string): StripeEvent => structuredClone(FIXTURES.find((f) => f.file === file)!.event);
const objectOf = (e: StripeEvent) => e.data.object as Obj;
/** Many fixtures share an event id (`evt_00000000000000`): each delivery here is its own event. */
const fresh = (e: StripeEvent): StripeEvent => ({ ...e, id: `evt_fx_${randomUUID().replaceAll('-', '')}` });
const now = () => Math.floor(Date.now() / 1000);
/** The fixture, under a fresh event id, with the given Stripe ids replaced wherever they appear (nothing else changes). */
function relink(file: string, ids: Record<string, string>, metadata?: Obj): StripeEvent {
  let text = JSON.stringify(fixture(file));
  for (const [from, to] of Object.entries(ids)) text = text.split(`"${from}"`).join(`"${to}"`);
  const event = fresh(JSON.parse(text) as StripeEvent);
  if (metadata) (event.data.object as Obj).metadata = { ...((event.data.object as Obj).metadata as Obj), ...metadata };
  return event;
}

/** How each fixture as published (no Settle order, no Settle metadata) is settled: never dead, never a retry loop. */
const AS_PUBLISHED: Record<string, { state: 'processed' | 'ignored'; outcome: string }> = {
  // Old shapes name only the charge; Stripe says the charge's PaymentIntent is not Settle's.
  'stripe-ruby-mock/charge.dispute.closed.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-ruby-mock/charge.dispute.created.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-ruby-mock/charge.refund.updated.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-ruby-mock/charge.refunded.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-ruby-mock/checkout.session.completed.payment_mode.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-ruby-mock/invoice.payment_failed.json': { state: 'processed', outcome: 'unsupported' },
  'stripe-ruby-mock/payment_intent.payment_failed.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-ruby-mock/payment_intent.succeeded.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-sync-engine/charge_dispute_created.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-sync-engine/charge_refunded.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-sync-engine/checkout_session_completed.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-sync-engine/invoice_payment_paid.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-sync-engine/payment_intent_canceled.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-sync-engine/payment_intent_succeeded.json': { state: 'ignored', outcome: 'not_settle' },
  'stripe-sync-engine/refund_updated.json': { state: 'ignored', outcome: 'not_settle' },
};

describe.each(TEST_BACKENDS)('real Stripe payloads through the whole webhook path on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind, { UNMATCHED_MAX_ATTEMPTS: '2', RETRY_MAX_ATTEMPTS: '3', RETRY_BASE_MS: '10', RETRY_MAX_MS: '20' }));
  });
  afterAll(async () => {
    await close?.();
  });

  const eventRow = (id: string) => api.db.selectFrom('stripe_events').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const credits = async (userId: string) =>
    Number((await api.db.selectFrom('entitlements').select('credits').where('user_id', '=', userId).executeTakeFirst())?.credits ?? 0);

  async function deliver(...events: StripeEvent[]) {
    for (const e of events) expect((await send(api, e)).status, e.type).toBe(200);
    await waitForInbox(api.db);
  }

  /** Stripe knows a charge by the fixture's id, paid through `paymentIntentId` (what an old-shape dispute or refund is resolved through). */
  function stripeKnowsCharge(chargeId: string, paymentIntentId: string, metadata: Obj = {}) {
    simulator.state.paymentIntents.set(paymentIntentId, { ...(simulator.state.paymentIntents.get(paymentIntentId) ?? {}), id: paymentIntentId, object: 'payment_intent', metadata });
    simulator.state.charges.set(chargeId, { id: chargeId, object: 'charge', payment_intent: paymentIntentId, metadata: {} });
  }

  /** A credits order of the fixture's amount and currency (Checkout created, not paid yet). */
  async function openOrder(amount: number, currency = 'usd', handler: 'new' | 'legacy' = 'new') {
    const id = randomUUID();
    return insertOrder(api.db, {
      id, user_id: `user_fx_${id.slice(0, 8)}`, product_id: 'credits10', amount, currency, status: 'pending', handler, checkout_session_id: `cs_test_${id.replaceAll('-', '')}`,
    });
  }

  /** A credits order paid by card (the simulator's journey, delivered): the payment a refund or dispute fixture is about. */
  async function paidOrder(amount: number) {
    const order = await openOrder(amount);
    await deliver(...journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount, currency: 'usd', startAt: now() - 3600 }));
    const { order: paid, grants } = await orderState(api.db, order.id);
    expect(paid.status).toBe('succeeded');
    expect(grants).toHaveLength(1);
    expect(await credits(order.user_id)).toBe(10);
    return paid;
  }

  it('every fixture as published is stored with 2xx and settled at once: ignored or unsupported, never dead, never retried', async () => {
    // Stripe knows every object the fixtures name: they belong to someone else in the same account.
    for (const { event } of FIXTURES) {
      const o = objectOf(event);
      const pi = typeof o.payment_intent === 'string' ? o.payment_intent : null;
      const foreignPi = pi ?? `pi_foreign_${String(o.charge ?? o.id)}`;
      if (typeof o.charge === 'string' && o.object !== 'invoice') stripeKnowsCharge(o.charge, foreignPi);
      else if (pi) stripeKnowsCharge(`ch_of_${pi}`, pi);
      if (typeof o.invoice === 'string') simulator.state.invoices.set(o.invoice, { id: o.invoice, object: 'invoice', metadata: {}, lines: { object: 'list', data: [] } });
    }
    const sent = FIXTURES.map(({ file }) => ({ file, event: fresh(fixture(file)) }));
    await deliver(...sent.map((s) => s.event));
    const orders = await api.db.selectFrom('orders').select('id').execute();
    const settled = [];
    for (const { file, event } of sent) {
      const row = await eventRow(event.id);
      settled.push({ file, state: row.state, outcome: row.outcome, attempts: row.attempts, error: row.last_error });
    }
    expect(settled).toEqual(sent.map(({ file }) => ({ file, ...AS_PUBLISHED[file], attempts: 1, error: null })));
    expect(orders).toEqual([]);
    expect(Object.keys(AS_PUBLISHED).sort()).toEqual(FIXTURES.map((f) => f.file));
  });

  describe('linked to a Settle order: the money outcome is right', () => {
    const settledBy = async (event: StripeEvent, outcome: RegExp | string) => {
      const row = await eventRow(event.id);
      expect({ state: row.state, attempts: row.attempts, error: row.last_error }).toEqual({ state: 'processed', attempts: 1, error: null });
      expect(row.outcome).toMatch(outcome);
    };
    const lastTransition = async (orderId: string) => (await orderState(api.db, orderId)).transitions.at(-1);

    it('payment_intent.succeeded (API 2020-08-27, `charges` list on the intent) pays its order and grants its credits once', async () => {
      const order = await openOrder(2000);
      const pi = `pi_fx_${order.id.slice(0, 8)}`;
      const event = relink('stripe-ruby-mock/payment_intent.succeeded.json', { pi_000000000000000000000000: pi }, { orderId: order.id });
      await deliver(event, { ...event });
      await settledBy(event, /^applied/);
      const { order: after, grants } = await orderState(api.db, order.id);
      expect(after).toMatchObject({ status: 'succeeded', payment_intent_id: pi });
      expect(grants).toEqual([expect.objectContaining({ credits: 10, credits_revoked: 0 })]);
      expect(await credits(order.user_id)).toBe(10);
      expect(await lastTransition(order.id)).toMatchObject({ from_status: 'pending', to_status: 'succeeded', cause: 'stripe_event', event_id: event.id });
    });

    it('payment_intent.succeeded that says nothing was received (amount_received 0) parks its order for review; nothing is granted', async () => {
      const order = await openOrder(1000);
      const event = relink('stripe-sync-engine/payment_intent_succeeded.json', { pi_1IqxJOJDPojXS6LN9uOebAea: `pi_fx_${order.id.slice(0, 8)}` }, { orderId: order.id });
      await deliver(event);
      await settledBy(event, /./);
      const { order: after, grants } = await orderState(api.db, order.id);
      expect(after.status).toBe('needs_review');
      expect(after.review_reason).toMatch(/^AMOUNT_MISMATCH/);
      expect(grants).toEqual([]);
      expect(await credits(order.user_id)).toBe(0);
    });

    it('payment_intent.payment_failed marks its order failed with the decline; nothing is granted', async () => {
      const order = await openOrder(2000);
      const event = relink('stripe-ruby-mock/payment_intent.payment_failed.json', { pi_000000000000000000000000: `pi_fx_${order.id.slice(0, 8)}` }, { orderId: order.id });
      await deliver(event);
      await settledBy(event, /^applied/);
      const { order: after, grants } = await orderState(api.db, order.id);
      expect(after.status).toBe('failed');
      expect(grants).toEqual([]);
      expect((await lastTransition(order.id))?.reason).toContain('generic_decline');
    });

    it('payment_intent.canceled cancels its unpaid order', async () => {
      const order = await openOrder(1000);
      const event = relink('stripe-sync-engine/payment_intent_canceled.json', { pi_1IqxJOJDPojXS6LN9uOebAea: `pi_fx_${order.id.slice(0, 8)}` }, { orderId: order.id });
      await deliver(event);
      await settledBy(event, /^applied/);
      expect((await orderState(api.db, order.id)).order.status).toBe('canceled');
      expect(await credits(order.user_id)).toBe(0);
    });

    const CHECKOUTS = [
      { file: 'stripe-ruby-mock/checkout.session.completed.payment_mode.json', session: 'cs_00000000000000', pi: 'pi_00000000000000', amount: 25000, currency: 'usd' },
      { file: 'stripe-sync-engine/checkout_session_completed.json', session: 'cs_live_9RBjcHiy2i5p99Tf1MYM90c3SHK1grU0E6Ae6pKWR2KPA4ZiuKiB2X1Y3X', pi: 'pi_1IqxJOJDPojXS6LN9uOebAea', amount: 999, currency: 'eur' },
    ];
    it.each(CHECKOUTS)('$file (paid) pays the order of its Checkout Session under the legacy handler and grants its credits', async ({ file, session, pi, amount, currency }) => {
      const order = await openOrder(amount, currency, 'legacy');
      const event = relink(file, { [session]: order.checkout_session_id!, [pi]: `pi_fx_${order.id.slice(0, 8)}` });
      await deliver(event);
      await settledBy(event, /^applied/);
      const { order: after, grants } = await orderState(api.db, order.id);
      expect(after).toMatchObject({ status: 'succeeded', payment_intent_id: `pi_fx_${order.id.slice(0, 8)}` });
      expect(grants).toEqual([expect.objectContaining({ credits: 10 })]);
      expect(await credits(order.user_id)).toBe(10);
    });

    it.each(CHECKOUTS)('$file (paid) links its order to its PaymentIntent under the new handler, which waits for payment_intent.succeeded', async ({ file, session, pi, amount, currency }) => {
      const order = await openOrder(amount, currency, 'new');
      const event = relink(file, { [session]: order.checkout_session_id!, [pi]: `pi_fx_${order.id.slice(0, 8)}` });
      await deliver(event);
      await settledBy(event, /./);
      const { order: after, grants } = await orderState(api.db, order.id);
      expect(after).toMatchObject({ status: 'pending', payment_intent_id: `pi_fx_${order.id.slice(0, 8)}` });
      expect(grants).toEqual([]);
      expect(await credits(order.user_id)).toBe(0);
    });

    it('charge.refunded (API 2020-03-02, full) refunds its order and takes the credits back', async () => {
      const order = await paidOrder(2500);
      const event = relink('stripe-sync-engine/charge_refunded.json', { pi_3Kl36gJDPojXS6LN02fQVtKR: order.payment_intent_id! });
      await deliver(event);
      await settledBy(event, /^applied/);
      const { order: after, grants } = await orderState(api.db, order.id);
      expect(after.status).toBe('refunded');
      expect(Number(after.amount_refunded)).toBe(2500);
      expect(grants[0]!.credits_revoked).toBe(10);
      expect(await credits(order.user_id)).toBe(0);
    });

    it('charge.refunded of before 2019 (no payment_intent on the charge) refunds its order: Stripe says whose the charge is', async () => {
      const order = await paidOrder(1000);
      const charge = `ch_fx_${order.id.slice(0, 8)}`;
      stripeKnowsCharge(charge, order.payment_intent_id!, { orderId: order.id });
      const event = relink('stripe-ruby-mock/charge.refunded.json', { ch_00000000000000: charge });
      await deliver(event);
      await settledBy(event, /^applied/);
      const { order: after } = await orderState(api.db, order.id);
      expect(after.status).toBe('refunded');
      expect(Number(after.amount_refunded)).toBe(1000);
      expect(await credits(order.user_id)).toBe(0);
    });

    it('refund.updated (succeeded, part of the payment) partly refunds its order and takes back a share of the credits', async () => {
      const order = await paidOrder(2000);
      const event = relink('stripe-sync-engine/refund_updated.json', { pi_1GszsK2eZvKYlo2CfhZyoZLp: order.payment_intent_id! });
      await deliver(event);
      await settledBy(event, /^applied/);
      const { order: after } = await orderState(api.db, order.id);
      expect(after.status).toBe('partially_refunded');
      expect(Number(after.amount_refunded)).toBe(1000);
      expect(await credits(order.user_id)).toBe(5);
    });

    it('charge.refund.updated naming only its charge (payment_intent null) partly refunds the order Stripe says the charge paid', async () => {
      const order = await paidOrder(1000);
      const charge = `ch_fx_${order.id.slice(0, 8)}`;
      stripeKnowsCharge(charge, order.payment_intent_id!, { orderId: order.id });
      const event = relink('stripe-ruby-mock/charge.refund.updated.json', { ch_000000000000000000000000: charge });
      await deliver(event);
      await settledBy(event, /^applied/);
      const { order: after } = await orderState(api.db, order.id);
      expect(after.status).toBe('partially_refunded');
      expect(Number(after.amount_refunded)).toBe(100);
      expect(await credits(order.user_id)).toBe(9);
    });

    it('charge.dispute.created then charge.dispute.closed (won) of API 2018-01-23, naming only the charge: disputed, then paid again', async () => {
      const order = await paidOrder(1000);
      const charge = `ch_fx_${order.id.slice(0, 8)}`;
      stripeKnowsCharge(charge, order.payment_intent_id!, { orderId: order.id });
      const dispute = `dp_fx_${order.id.slice(0, 8)}`;
      const created = relink('stripe-ruby-mock/charge.dispute.created.json', { ch_00000000000000: charge, dp_00000000000000: dispute });
      await deliver(created);
      await settledBy(created, /^applied/);
      expect((await orderState(api.db, order.id)).order.status).toBe('disputed');
      const closed = relink('stripe-ruby-mock/charge.dispute.closed.json', { ch_00000000000000: charge, dp_00000000000000: dispute });
      await deliver(closed);
      await settledBy(closed, /^applied/);
      const { order: after, grants } = await orderState(api.db, order.id);
      expect(after.status).toBe('succeeded');
      expect(grants[0]!.credits_revoked).toBe(0);
      expect(await credits(order.user_id)).toBe(10);
    });

    it('charge.dispute.created (API 2020-03-02, warning_needs_response) marks its order disputed', async () => {
      const order = await paidOrder(1000);
      const event = relink('stripe-sync-engine/charge_dispute_created.json', { pi_1IqtG9JDPojXS6LNOGnYrIqq: order.payment_intent_id! });
      await deliver(event);
      await settledBy(event, /^applied/);
      expect((await orderState(api.db, order.id)).order.status).toBe('disputed');
    });

    it("invoice_payment.paid links a plan's first invoice to the PaymentIntent that paid it: the order's payment", async () => {
      const { orderId, checkoutSessionId } = await checkoutAs(api, `user_fx_plan_${kind}`, 'hobby');
      const run = await simulator.runJourney('subscription_renew', checkoutSessionId, { deliver: false });
      const link = objectOf(run.events.find((e) => e.type === 'invoice_payment.paid')!);
      const pi = (link.payment as Obj).payment_intent as string;
      // The first period as Stripe sends it, but for the link: the fixture stands in for it.
      const firstPeriod = run.events.slice(0, run.events.findIndex((e) => e.type === 'checkout.session.completed') + 1).filter((e) => e.type !== 'invoice_payment.paid');
      await deliver(...firstPeriod);
      expect((await orderState(api.db, orderId)).order.payment_intent_id).toBeNull();
      const event = relink('stripe-sync-engine/invoice_payment_paid.json', {
        in_103Q0w2eZvKYlo2C5PYwf6Wf: link.invoice as string, pi_103Q0w2eZvKYlo2C364X582Z: pi, inpay_1M3USa2eZvKYlo2CBjuwbq0N: link.id as string,
      });
      await deliver(event);
      await settledBy(event, 'payment_recorded');
      const { order } = await orderState(api.db, orderId);
      expect(order).toMatchObject({ status: 'succeeded', payment_intent_id: pi });
    });
  });
});
