import { describe, expect, it } from 'vitest';
import { EXPECTED_SUBSCRIPTION_OUTCOME, SUBSCRIPTION_JOURNEYS, SUBSCRIPTION_PERIOD_S } from './journeys.js';
import { main } from './cli.js';
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

describe('an add-on item (--add-on)', () => {
  it('joins the subscription before the plan from the first renewal on, and each renewal bills it: the charge is plan + add-on', async () => {
    const session = await h.subscriptionCheckout();
    const run = await h.sim.runJourney('subscription_renew', session.id, { startAt: 1_750_000_000, addOnPriceId: 'price_seats', deliver: false });
    type Line = { amount: number; pricing: { price_details: { price: string } }; parent: { subscription_item_details: { subscription_item: string } } };
    type Invoice = { id: string; billing_reason: string; amount_due: number; amount_paid: number; lines: { data: Line[] } };
    const paidInvoices = run.events.filter((e) => e.type === 'invoice.paid').map((e) => e.data.object as Invoice);
    const [first, renewal] = paidInvoices;
    expect(first!.billing_reason).toBe('subscription_create');
    const plan = first!.lines.data[0]!.pricing.price_details.price;
    expect(first!.lines.data.map((l) => l.pricing.price_details.price)).toEqual([plan]);
    expect(first!.amount_paid).toBe(1999);
    expect(renewal!.billing_reason).toBe('subscription_cycle');
    expect(renewal!.lines.data.map((l) => [l.pricing.price_details.price, l.amount])).toEqual([['price_seats', 300], [plan, 1999]]);
    expect(renewal!.amount_paid).toBe(2299);
    const [seatsLine, planLine] = renewal!.lines.data;
    expect(seatsLine!.parent.subscription_item_details.subscription_item).not.toBe(planLine!.parent.subscription_item_details.subscription_item);
    const charged = run.events.filter((e) => e.type === 'payment_intent.succeeded').map((e) => (e.data.object as { amount: number }).amount);
    expect(charged).toEqual([1999, 2299]);

    const subscriptions = run.events.filter((e) => e.type.startsWith('customer.subscription.')).map((e) => e.data.object as { items: { data: { price: { id: string } }[] } });
    expect(subscriptions[0]!.items.data.map((i) => i.price.id)).toEqual([plan]);
    expect(subscriptions.at(-1)!.items.data.map((i) => i.price.id)).toEqual(['price_seats', plan]);
    const sub = await h.stripe.subscriptions.retrieve((await h.stripe.checkout.sessions.retrieve(session.id)).subscription as string);
    expect(sub.items.data.map((i) => i.price.id)).toEqual(['price_seats', plan]);
  });

  it('is refused on a payment journey and as the plan\'s own price, and nothing moves', async () => {
    const pay = await h.createCheckout();
    await expect(h.sim.runJourney('card_success', pay.id, { addOnPriceId: 'price_seats' })).rejects.toMatchObject({ status: 400 });
    expect((await h.stripe.checkout.sessions.retrieve(pay.id)).status).toBe('open');
    const sub = await h.subscriptionCheckout();
    const [item] = (await h.stripe.checkout.sessions.listLineItems(sub.id)).data;
    await expect(h.sim.runJourney('subscription_renew', sub.id, { addOnPriceId: item!.price!.id })).rejects.toMatchObject({ status: 400, message: expect.stringContaining("plan's own price") });
    await expect(h.sim.runJourney('subscription_renew', sub.id, { addOnPriceId: 'price seats' })).rejects.toMatchObject({ status: 400 });
    expect((await h.stripe.checkout.sessions.retrieve(sub.id)).status).toBe('open');
  });

  it('is asked for with --add-on in pnpm simulate; on a payment journey the CLI says why not and exits 1', async () => {
    const cli = (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      return main(args, { env: { SIMULATOR_URL: h.sim.url }, out: (l) => out.push(l), err: (l) => err.push(l) }).then((code) => ({ code, out, err }));
    };
    const session = await h.subscriptionCheckout();
    expect(await cli(['subscription_renew', '--session', session.id, '--add-on', 'price_support'])).toMatchObject({ code: 0, err: [] });
    const sub = await h.stripe.subscriptions.retrieve((await h.stripe.checkout.sessions.retrieve(session.id)).subscription as string);
    expect(sub.items.data.map((i) => i.price.id)[0]).toBe('price_support');
    const pay = await h.createCheckout();
    const refused = await cli(['card_success', '--session', pay.id, '--add-on', 'price_support']);
    expect(refused.code).toBe(1);
    expect(refused.err.join('\n')).toContain('An add-on is for subscription journeys');
    // With no session named and no open one of its mode, the add-on is still what is wrong.
    expect(await cli(['card_success', '--session', pay.id])).toMatchObject({ code: 0, err: [] });
    for (const args of [['card_success'], ['card_success', '--session', 'cs_test_missing']]) {
      const plain = await cli([...args, '--add-on', 'price_support']);
      expect(plain.code).toBe(1);
      expect(plain.err.join('\n')).toContain('An add-on is for subscription journeys');
    }
  });
});
