import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { journeyEvents } from './journeys.js';
import { useSimulator } from './test-support.js';

const h = useSimulator();

describe('journeys', () => {
  it('card_success: every event arrives signed, and the API reflects the payment', async () => {
    const orderId = crypto.randomUUID();
    const session = await h.createCheckout(orderId);
    const run = await h.sim.runJourney('card_success', session.id);
    const expectedTypes = journeyEvents('card_success', { orderId, checkoutSessionId: session.id, amount: 1990, currency: 'usd', startAt: 0 }).map((e) => e.type);
    expect(run.events.map((e) => e.type)).toEqual(expectedTypes);
    expect(run.deliveries.every((d) => d.ok && d.status === 200 && d.attempts === 1)).toBe(true);
    expect(h.receiver.rejected).toEqual([]);
    expect(h.receiver.received.map((e) => e.id).sort()).toEqual(run.events.map((e) => e.id).sort());

    const completed = h.receiver.received.find((e) => e.type === 'checkout.session.completed')!.data.object as Stripe.Checkout.Session;
    expect(completed).toMatchObject({ id: session.id, status: 'complete', payment_status: 'paid', client_reference_id: 'user-1', metadata: { orderId, productId: 'credits10' } });
    const piId = completed.payment_intent as string;
    const succeeded = h.receiver.received.find((e) => e.type === 'payment_intent.succeeded')!.data.object as Stripe.PaymentIntent;
    expect(succeeded.metadata).toEqual({ orderId, userId: 'user-1' });

    // What a reconciler sees afterwards.
    const pi = await h.stripe.paymentIntents.retrieve(piId);
    expect(pi).toMatchObject({ id: piId, status: 'succeeded', amount: 1990, amount_received: 1990, metadata: { orderId, userId: 'user-1' } });
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ status: 'succeeded', paid: true, amount: 1990, payment_intent: piId });
    const after = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect(after).toMatchObject({ status: 'complete', payment_status: 'paid', url: null });
    expect((after.payment_intent as Stripe.PaymentIntent).status).toBe('succeeded');
    const invoice = await h.stripe.invoices.retrieve(after.invoice as string);
    expect(invoice).toMatchObject({ status: 'paid', amount_paid: 1990, metadata: { orderId } });
    const stored = await h.stripe.events.retrieve(run.events[0]!.id);
    expect(stored.type).toBe('payment_intent.created');

    await expect(h.sim.runJourney('card_success', session.id)).rejects.toThrow(/needs an open session/);
  });

  it('delivers duplicates and shuffles when asked', async () => {
    const session = await h.createCheckout();
    const run = await h.sim.runJourney('three_d_secure', session.id, { duplicates: 1, shuffle: true, seed: 7 });
    expect(run.deliveries).toHaveLength(run.events.length * 2);
    await h.receiver.waitFor(run.events.length * 2);
    for (const ev of run.events) expect(h.receiver.received.filter((r) => r.id === ev.id)).toHaveLength(2);
    expect(run.deliveries.map((d) => d.eventId)).not.toEqual([...run.events, ...run.events].map((e) => e.id));
  });

  it('retries a delivery until the endpoint acknowledges it', async () => {
    const session = await h.createCheckout();
    h.receiver.failNext = 2;
    const run = await h.sim.runJourney('session_expired', session.id);
    expect(run.deliveries).toEqual([expect.objectContaining({ type: 'checkout.session.expired', ok: true, status: 200, attempts: 3, statuses: { 200: 1, 500: 2 } })]);
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).status).toBe('expired');
  });

  it('async_failure leaves an unpaid session and a failed intent; no invoice without invoice_creation', async () => {
    const session = await h.createCheckout(undefined, { invoice: false });
    const run = await h.sim.runJourney('card_success', session.id, { deliver: false });
    expect(run.deliveries).toEqual([]);
    expect(run.events.some((e) => e.type.startsWith('invoice.'))).toBe(false);
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).invoice).toBeNull();

    const other = await h.createCheckout();
    await h.sim.runJourney('async_failure', other.id, { deliver: false });
    const s = await h.stripe.checkout.sessions.retrieve(other.id);
    expect(s).toMatchObject({ status: 'complete', payment_status: 'unpaid' });
    const pi = await h.stripe.paymentIntents.retrieve(s.payment_intent as string);
    expect(pi.status).toBe('requires_payment_method');
    expect(pi.last_payment_error?.code).toBe('payment_method_insufficient_funds');
    await expect(h.stripe.refunds.create({ payment_intent: pi.id })).rejects.toMatchObject({ statusCode: 400, code: 'charge_not_refundable' });
  });

  it('refunds: partial, then the remainder, then nothing left', async () => {
    const session = await h.createCheckout();
    const run = await h.sim.runJourney('card_success', session.id);
    const piId = (await h.stripe.checkout.sessions.retrieve(session.id)).payment_intent as string;
    h.receiver.received.length = 0;

    const partial = await h.stripe.refunds.create({ payment_intent: piId, amount: 500, reason: 'requested_by_customer', metadata: { by: 'admin' } }, { idempotencyKey: `refund-${piId}-1` });
    expect(partial).toMatchObject({ object: 'refund', amount: 500, status: 'succeeded', payment_intent: piId, reason: 'requested_by_customer', metadata: { by: 'admin' } });
    const replay = await h.stripe.refunds.create({ payment_intent: piId, amount: 500, reason: 'requested_by_customer', metadata: { by: 'admin' } }, { idempotencyKey: `refund-${piId}-1` });
    expect(replay.id).toBe(partial.id);
    const webhooks = await h.receiver.waitFor(2);
    expect(webhooks.map((e) => e.type).sort()).toEqual(['charge.refunded', 'refund.created']);
    const refundedEvent = webhooks.find((e) => e.type === 'charge.refunded')!;
    expect(refundedEvent.data.object).toMatchObject({ amount_refunded: 500, refunded: false });
    expect(refundedEvent.data.previous_attributes).toEqual({ amount_refunded: 0, refunded: false });
    expect(refundedEvent.request).toEqual({ id: expect.stringMatching(/^req_/), idempotency_key: `refund-${piId}-1` });

    await expect(h.stripe.refunds.create({ payment_intent: piId, amount: 5000 })).rejects.toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });
    const rest = await h.stripe.refunds.create({ charge: partial.charge as string });
    expect(rest.amount).toBe(1490);
    const charge = await h.stripe.charges.retrieve(partial.charge as string);
    expect(charge).toMatchObject({ amount_refunded: 1990, refunded: true });
    expect((await h.stripe.paymentIntents.retrieve(piId)).status).toBe('succeeded');
    await expect(h.stripe.refunds.create({ payment_intent: piId })).rejects.toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });
    await h.receiver.waitFor(4);
    expect(run.events.length).toBeGreaterThan(0);
  });

  it('a lost dispute marks the charge disputed, which then refuses refunds', async () => {
    const session = await h.createCheckout();
    const run = await h.sim.runJourney('dispute_lost', session.id, { deliver: false });
    expect(run.events.at(-1)!.type).toBe('charge.dispute.closed');
    const pi = await h.stripe.paymentIntents.retrieve((await h.stripe.checkout.sessions.retrieve(session.id)).payment_intent as string);
    expect((await h.stripe.charges.retrieve(pi.latest_charge as string)).disputed).toBe(true);
    await expect(h.stripe.refunds.create({ payment_intent: pi.id })).rejects.toMatchObject({ code: 'charge_disputed' });
  });

  it('lists events newest first and pages through them', async () => {
    const page = await h.stripe.events.list({ limit: 3 });
    expect(page).toMatchObject({ object: 'list', has_more: true });
    expect(page.data).toHaveLength(3);
    // Newest first as Stripe lists: by `created`, the later-recorded first within one second.
    const all = [...h.sim.events()].reverse().sort((a, b) => b.created - a.created);
    expect(page.data.map((e) => e.id)).toEqual(all.slice(0, 3).map((e) => e.id));
    const paged = await h.stripe.events.list({ limit: 4 }).autoPagingToArray({ limit: 10_000 });
    expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));
    const refunds = await h.stripe.events.list({ type: 'charge.*', limit: 100 });
    expect(refunds.data.length).toBeGreaterThan(0);
    expect(refunds.data.every((e) => e.type.startsWith('charge.'))).toBe(true);
  });
});
