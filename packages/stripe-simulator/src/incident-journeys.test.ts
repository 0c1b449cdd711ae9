import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { type StripeEvent } from './journeys.js';
import { captureCli, useSimulator } from './test-support.js';

const h = useSimulator();

const objectOf = <T>(ev: StripeEvent) => ev.data.object as T;
const cli = () => captureCli(h.sim.url);

describe('incident journeys', () => {
  it('refund_failed: a pending refund, then refund.failed, refund.updated and charge.refund.updated; the money is back on the charge', async () => {
    const session = await h.createCheckout();
    const run = await h.sim.runJourney('refund_failed', session.id, { duplicates: 0.5, shuffle: true, seed: 7 });
    await h.receiver.waitFor(run.deliveries.length);
    expect(run.events.map((e) => e.type).slice(-5)).toEqual(['refund.created', 'charge.refunded', 'refund.failed', 'refund.updated', 'charge.refund.updated']);
    const [created, , failed, updated, chargeRefund] = run.events.slice(-5);
    expect(objectOf<Stripe.Refund>(created!).status).toBe('pending');
    for (const ev of [failed!, updated!, chargeRefund!]) {
      expect(objectOf<Stripe.Refund>(ev)).toMatchObject({ object: 'refund', id: objectOf<Stripe.Refund>(created!).id, status: 'failed', failure_reason: 'expired_or_canceled_card' });
    }
    expect(updated!.data.previous_attributes).toEqual({ status: 'pending', failure_reason: null });
    const refund = await h.stripe.refunds.retrieve(objectOf<Stripe.Refund>(created!).id);
    expect(refund.status).toBe('failed');
    expect(await h.stripe.charges.retrieve(refund.charge as string)).toMatchObject({ amount_refunded: 0, refunded: false });
  });

  it('duplicate_payment: a second PaymentIntent for the already paid order succeeds too', async () => {
    const orderId = crypto.randomUUID();
    const session = await h.createCheckout(orderId);
    const run = await h.sim.runJourney('duplicate_payment', session.id);
    await h.receiver.waitFor(run.deliveries.length);
    const succeeded = run.events.filter((e) => e.type === 'payment_intent.succeeded').map(objectOf<Stripe.PaymentIntent>);
    expect(succeeded).toHaveLength(2);
    expect(succeeded[0]!.id).not.toBe(succeeded[1]!.id);
    for (const pi of succeeded) {
      expect(pi).toMatchObject({ status: 'succeeded', amount: 1990, metadata: { orderId } });
      expect((await h.stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
      const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
      expect(charge).toMatchObject({ payment_intent: pi.id, status: 'succeeded' });
    }
    // The session knows only the first payment.
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).payment_intent).toBe(succeeded[0]!.id);
  });

  it('foreign_objects: events about a session, subscription, invoice, refund and dispute Settle never created, with no session needed', async () => {
    const { out, err, io } = cli();
    expect(await main(['foreign_objects'], io)).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toBe('foreign_objects: objects Settle never created');
    const events = await Promise.all(h.sim.events().slice(-9).map((e) => h.stripe.events.retrieve(e.id)));
    expect(events.map((e) => e.type).sort()).toEqual([
      'charge.dispute.created', 'charge.refunded', 'charge.succeeded', 'checkout.session.completed', 'customer.subscription.created',
      'invoice.paid', 'invoice_payment.paid', 'payment_intent.succeeded', 'refund.created',
    ]);
    const text = JSON.stringify(events);
    expect(text).not.toContain('orderId');
    expect(text).not.toContain('userId');
    const byType = (type: string) => events.find((e) => e.type === type)!.data.object as { id: string; metadata?: Record<string, string> };
    // Every object is served by the API, as a thin event's related object would be fetched.
    expect((await h.stripe.checkout.sessions.retrieve(byType('checkout.session.completed').id)).metadata).toEqual({});
    expect((await h.stripe.subscriptions.retrieve(byType('customer.subscription.created').id)).metadata).toEqual({});
    expect((await h.stripe.invoices.retrieve(byType('invoice.paid').id)).parent?.subscription_details?.metadata).toEqual({});
    expect((await h.stripe.refunds.retrieve(byType('refund.created').id)).status).toBe('succeeded');
    expect((await h.stripe.disputes.retrieve(byType('charge.dispute.created').id)).status).toBe('needs_response');
    expect((await h.stripe.paymentIntents.retrieve(byType('payment_intent.succeeded').id)).metadata).toEqual({});
  });
});
