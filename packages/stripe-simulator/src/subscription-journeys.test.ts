import { describe, expect, it } from 'vitest';
import { EXPECTED_SUBSCRIPTION_OUTCOME, SUBSCRIPTION_JOURNEYS, SUBSCRIPTION_PERIOD_S } from './journeys.js';
import { useSimulator } from './test-support.js';

const h = useSimulator();

describe('subscription journeys', () => {
  it.each(SUBSCRIPTION_JOURNEYS)('%s: signed events with the subscription and its invoices, reflected by the API', async (journey) => {
    const orderId = crypto.randomUUID();
    const session = await h.subscriptionCheckout(orderId);
    const startAt = 1_750_000_000;
    const run = await h.sim.runJourney(journey, session.id, { startAt });
    const events = await h.receiver.waitFor(run.events.length);
    expect(events.map((e) => e.type)).toEqual(run.events.map((e) => e.type));

    const done = await h.stripe.checkout.sessions.retrieve(session.id);
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid', mode: 'subscription', subscription: expect.stringMatching(/^sub_/) });
    const sub = await h.stripe.subscriptions.retrieve(done.subscription as string);
    const expected = EXPECTED_SUBSCRIPTION_OUTCOME[journey];
    expect(sub.metadata).toEqual({ orderId, userId: 'user-1' });
    expect(sub.items.data[0]!.current_period_end).toBe(startAt + expected.periodEndAfterPeriods * SUBSCRIPTION_PERIOD_S);
    expect(sub.status).toBe({ active: 'active', past_due: 'past_due', cancel_at_period_end: 'active', canceled: 'canceled' }[expected.subscriptionStatus]);

    const invoiceIds = new Set(run.events.filter((e) => e.type.startsWith('invoice.')).map((e) => (e.data.object as { id: string }).id));
    expect(invoiceIds.size).toBe(expected.invoices);
    for (const id of invoiceIds) {
      const invoice = await h.stripe.invoices.retrieve(id);
      expect(invoice.parent?.subscription_details).toMatchObject({ subscription: sub.id, metadata: { orderId } });
      expect(invoice.billing_reason).toMatch(/^subscription_(create|cycle)$/);
    }
  });

  it('runs subscription journeys only on subscription-mode sessions, and payment journeys only on payment-mode ones', async () => {
    const sub = await h.subscriptionCheckout();
    const pay = await h.createCheckout();
    await expect(h.sim.runJourney('card_success', sub.id)).rejects.toMatchObject({ status: 409 });
    await expect(h.sim.runJourney('subscription_renew', pay.id)).rejects.toMatchObject({ status: 409 });
    const res = await fetch(`${h.sim.url}/_sim/journeys/subscription_cancel`, { method: 'POST', body: JSON.stringify({ sessionId: sub.id }) });
    expect(res.status).toBe(200);
    await expect(h.stripe.checkout.sessions.create({
      mode: 'payment', line_items: [{ price: 'price_credits10', quantity: 1 }], subscription_data: { metadata: { orderId: 'x' } },
    })).rejects.toMatchObject({ statusCode: 400, param: 'subscription_data' });
  });
});
