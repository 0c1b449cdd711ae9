import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { useSimulator } from './test-support.js';

const h = useSimulator();

async function waitUntil(check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('thin event notifications', () => {
  it('records v2.core.health.event_generation_failure.resolved: a notification without an object, whose event names it in data.impact', async () => {
    const session = await h.createCheckout();
    const run = await h.sim.runJourney('card_success', session.id, { deliver: false });
    const pi = (run.events.find((e) => e.type === 'payment_intent.succeeded')!.data.object as { id: string }).id;
    const notification = h.sim.eventGenerationFailureResolved({ id: pi, type: 'payment_intent' }, 'payment_intent.succeeded');
    expect(Object.keys(notification).sort()).toEqual(['context', 'created', 'id', 'livemode', 'object', 'reason', 'type']);
    const parsed = h.stripe.parseEventNotificationWithoutVerification(JSON.stringify(notification));
    expect(parsed.type).toBe('v2.core.health.event_generation_failure.resolved');
    const fetched = (await parsed.fetchEvent()) as unknown as { id: string; data: Record<string, unknown> };
    expect(fetched).toMatchObject({
      id: notification.id,
      data: {
        alert_id: expect.stringMatching(/^halert_/),
        grouping_key: expect.any(String),
        resolved_at: notification.created,
        impact: { event_type: 'payment_intent.succeeded', related_object: { id: pi, type: 'payment_intent', url: `/v1/payment_intents/${pi}` } },
      },
    });
    expect(() => h.sim.eventGenerationFailureResolved({ id: 'acct_1', type: 'account' }, 'account.updated')).toThrow(/does not serve/);
  });

  it('delivers v2.core.event notifications the SDK parses, whose event and related object it can fetch', async () => {
    const session = await h.createCheckout();
    const run = await h.sim.runJourney('card_success', session.id, { format: 'thin' });
    await waitUntil(() => h.receiver.thin.length === run.events.length, 'thin notifications');
    expect(h.receiver.received).toHaveLength(0);
    expect(h.receiver.thin.map((n) => n.type)).toEqual(run.events.map((e) => `v1.${e.type}`));

    const succeeded = h.receiver.thin.find((n) => n.type === 'v1.payment_intent.succeeded')!;
    const snapshot = run.events.find((e) => e.type === 'payment_intent.succeeded')!;
    expect(succeeded).toMatchObject({
      object: 'v2.core.event',
      livemode: false,
      snapshot_event: snapshot.id,
      related_object: { id: (snapshot.data.object as { id: string }).id, type: 'payment_intent', url: `/v1/payment_intents/${(snapshot.data.object as { id: string }).id}` },
    });
    expect(new Date(succeeded.created).getTime()).toBe(snapshot.created * 1000);
    const fetched = await succeeded.fetchEvent();
    expect(fetched).toMatchObject({ id: succeeded.id, object: 'v2.core.event', type: 'v1.payment_intent.succeeded', snapshot_event: snapshot.id });
    const related = (await (succeeded as Stripe.V2.Core.Events.UnknownEventNotification).fetchRelatedObject()) as Stripe.PaymentIntent;
    expect(related).toMatchObject({ object: 'payment_intent', status: 'succeeded' });
    expect((await h.stripe.events.retrieve(snapshot.id)).type).toBe('payment_intent.succeeded');
    await expect(h.stripe.v2.core.events.retrieve('evt_test_65nope')).rejects.toMatchObject({ statusCode: 404 });

    // A failure mark set on the snapshot event also answers for its thin notification.
    const marked = await h.createCheckout();
    const second = await h.sim.runJourney('card_success', marked.id, { format: 'both', fail: ['invoice.paid'] });
    await waitUntil(() => h.receiver.received.length === second.events.length && h.receiver.thin.length === run.events.length + second.events.length, 'both kinds');
    const paid = second.events.find((e) => e.type === 'invoice.paid')!;
    const thinPaid = h.receiver.thin.find((n) => n.snapshot_event === paid.id)!;
    expect(h.sim.failsProcessing(thinPaid.id)).toBe(true);
    expect(h.sim.fix(thinPaid.id)).toEqual([paid.id]);
    expect(h.sim.failsProcessing(paid.id)).toBe(false);
  });
});

describe('billing reads', () => {
  it('creates a customer portal session whose url is a simulator page, for a known customer only', async () => {
    const customer = await h.stripe.customers.create({ email: 'plan@example.com' });
    const portal = await h.stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'http://localhost:3000/account' });
    expect(portal).toMatchObject({ object: 'billing_portal.session', customer: customer.id, return_url: 'http://localhost:3000/account' });
    expect(portal.url).toBe(`${h.sim.url}/p/session/${portal.id}`);
    const page = await fetch(portal.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('http://localhost:3000/account');
    await expect(h.stripe.billingPortal.sessions.create({ customer: 'cus_nope' })).rejects.toMatchObject({ statusCode: 400, param: 'customer' });
  });

  it('lists invoices of a subscription and pages through them', async () => {
    const session = await h.subscriptionCheckout();
    const run = await h.sim.runJourney('subscription_renew', session.id);
    const subscription = (await h.stripe.checkout.sessions.retrieve(session.id)).subscription as string;
    const invoices = await h.stripe.invoices.list({ subscription, limit: 1 }).autoPagingToArray({ limit: 100 });
    const ids = new Set(run.events.filter((e) => e.type.startsWith('invoice.')).map((e) => (e.data.object as { id: string }).id));
    expect(invoices.map((i) => i.id).sort()).toEqual([...ids].sort());
    expect(invoices[0]!.created).toBeGreaterThan(invoices[1]!.created);
    expect((await h.stripe.invoices.list({ subscription: 'sub_other' })).data).toEqual([]);
  });

  it('accepts subscription_data.trial_period_days within Stripe\'s bounds', async () => {
    const customer = await h.stripe.customers.create({});
    const create = (days: number) => h.stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      line_items: [{ price_data: { currency: 'usd', unit_amount: 900, product_data: { name: 'Hobby' }, recurring: { interval: 'month' } }, quantity: 1 }],
      subscription_data: { trial_period_days: days },
    });
    expect((await create(14)).status).toBe('open');
    await expect(create(0)).rejects.toMatchObject({ statusCode: 400, param: 'subscription_data[trial_period_days]' });
  });
});

describe('refunds that fail later', () => {
  it('puts the money back on the charge and tells with refund.failed, refund.updated and charge.refund.updated', async () => {
    const session = await h.createCheckout();
    await h.sim.runJourney('card_success', session.id);
    const pi = (await h.stripe.checkout.sessions.retrieve(session.id)).payment_intent as string;
    const refund = await h.stripe.refunds.create({ payment_intent: pi, amount: 500 });
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(['fail-refund', refund.id], { env: { SIMULATOR_URL: h.sim.url }, out: (l) => out.push(l), err: (l) => err.push(l) })).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toBe(`refund ${refund.id} failed; sent refund.failed, refund.updated, charge.refund.updated`);
    expect(await h.stripe.refunds.retrieve(refund.id)).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card' });
    expect(await h.stripe.charges.retrieve(refund.charge as string)).toMatchObject({ amount_refunded: 0, refunded: false });
    await waitUntil(() => h.receiver.received.some((e) => e.type === 'charge.refund.updated'), 'charge.refund.updated');
    const failed = h.receiver.received.filter((e) => ['refund.failed', 'refund.updated', 'charge.refund.updated'].includes(e.type));
    expect(failed.map((e) => (e.data.object as Stripe.Refund).status)).toEqual(['failed', 'failed', 'failed']);
    expect(failed.find((e) => e.type === 'refund.updated')!.data.previous_attributes).toMatchObject({ status: 'succeeded' });
    const again = await fetch(`${h.sim.url}/_sim/refunds/${refund.id}/fail`, { method: 'POST' });
    expect(again.status).toBe(409);
  });
});
