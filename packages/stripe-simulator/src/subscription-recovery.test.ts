import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { SUBSCRIPTION_PERIOD_S } from './journeys.js';
import { useSimulator } from './test-support.js';

const h = useSimulator();
const DAY = 86_400;

/** A subscription-mode session run through `journey`, a period or so ago; answers its subscription id. */
async function subscriptionAfter(journey: 'subscription_trial_paused' | 'subscription_dunning_unpaid') {
  const session = await h.subscriptionCheckout();
  const run = await h.sim.runJourney(journey, session.id, { startAt: Math.floor(Date.now() / 1000) - SUBSCRIPTION_PERIOD_S - 10 * DAY });
  expect(run.deliveries.every((d) => d.ok)).toBe(true);
  return (await h.stripe.checkout.sessions.retrieve(session.id)).subscription as string;
}

/** Pay an invoice on its hosted page, as the customer does, and wait for the webhooks that follow. */
async function payOnHostedPage(url: string, expected: number) {
  const before = h.receiver.received.length;
  const res = await fetch(url, { method: 'POST' });
  expect(res.status).toBe(200);
  const received = await h.receiver.waitFor(before + expected);
  return received.slice(before);
}

describe('bringing back a subscription that stopped being paid for', () => {
  it('subscription_trial_paused: the trial ends without a card and the subscription pauses, with no invoice', async () => {
    const id = await subscriptionAfter('subscription_trial_paused');
    const sub = await h.stripe.subscriptions.retrieve(id);
    expect(sub).toMatchObject({ status: 'paused', default_payment_method: null });
    const types = h.receiver.received.map((e) => e.type);
    expect(types.slice(-2)).toEqual(['customer.subscription.paused', 'customer.subscription.updated']);
    expect((await h.stripe.invoices.list({ subscription: id })).data.map((i) => [i.amount_due, i.status])).toEqual([[0, 'paid']]);
  });

  it('resume bills a new period on an open resumption invoice; paying it on its hosted page makes the subscription active', async () => {
    const id = await subscriptionAfter('subscription_trial_paused');
    h.receiver.received.length = 0;
    const resumed = await h.stripe.subscriptions.resume(id, { billing_cycle_anchor: { type: 'now' }, expand: ['latest_invoice'] }, { idempotencyKey: `resume-${id}` });
    const invoice = resumed.latest_invoice as Stripe.Invoice;
    // Stripe waits for a payment attempt before the subscription leaves `paused`.
    expect(resumed.status).toBe('paused');
    expect(invoice).toMatchObject({ status: 'open', amount_due: 1999, billing_reason: 'subscription_update', parent: { subscription_details: { subscription: id } } });
    expect(invoice.hosted_invoice_url).toBe(`${h.sim.url}/i/${invoice.id}`);
    expect(resumed.items.data[0]!.current_period_end - resumed.items.data[0]!.current_period_start).toBe(SUBSCRIPTION_PERIOD_S);
    expect(resumed.billing_cycle_anchor).toBeGreaterThan(Math.floor(Date.now() / 1000) - 60);
    // A double click: the same key answers the same resumption, and no second invoice is made.
    const again = await h.stripe.subscriptions.resume(id, { billing_cycle_anchor: { type: 'now' }, expand: ['latest_invoice'] }, { idempotencyKey: `resume-${id}` });
    expect((again.latest_invoice as Stripe.Invoice).id).toBe(invoice.id);
    expect((await h.stripe.invoices.list({ subscription: id })).data).toHaveLength(2);
    expect((await h.receiver.waitFor(3)).map((e) => e.type)).toEqual(['invoice.created', 'invoice.finalized', 'customer.subscription.updated']);

    const page = await fetch(invoice.hosted_invoice_url!);
    expect(await page.text()).toContain('<button>Pay</button>');
    const paid = await payOnHostedPage(invoice.hosted_invoice_url!, 8);
    expect(paid.map((e) => e.type)).toEqual([
      'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'invoice_payment.paid', 'invoice.paid', 'invoice.payment_succeeded',
      'customer.subscription.resumed', 'customer.subscription.updated',
    ]);
    expect(paid.at(-1)!.data).toMatchObject({ object: { status: 'active' }, previous_attributes: { status: 'paused' } });
    const pi = paid.find((e) => e.type === 'payment_intent.succeeded')!.data.object as Stripe.PaymentIntent;
    expect(pi).not.toHaveProperty('invoice');
    expect((await h.stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: pi.id } })).data).toMatchObject([{ invoice: invoice.id, status: 'paid', amount_paid: 1999 }]);
    expect(await h.stripe.subscriptions.retrieve(id)).toMatchObject({ status: 'active' });
    expect(await h.stripe.invoices.retrieve(invoice.id)).toMatchObject({ status: 'paid', amount_paid: 1999, amount_remaining: 0 });
    // Paid once: the page says so, and a second payment is refused.
    expect((await fetch(invoice.hosted_invoice_url!, { method: 'POST' })).status).toBe(409);
  });

  it('resume pays at once from the customer\'s credit balance: active in the answer', async () => {
    const id = await subscriptionAfter('subscription_trial_paused');
    const sub = await h.stripe.subscriptions.retrieve(id);
    h.sim.state.customers.get(sub.customer as string)!.balance = -5000;
    const resumed = await h.stripe.subscriptions.resume(id, { billing_cycle_anchor: { type: 'now' }, expand: ['latest_invoice'] });
    expect(resumed.status).toBe('active');
    expect(resumed.latest_invoice).toMatchObject({ status: 'paid', amount_due: 0, starting_balance: -5000, ending_balance: -3001 });
    expect((await h.stripe.customers.retrieve(sub.customer as string)) as Stripe.Customer).toMatchObject({ balance: -3001 });
  });

  it('refuses to resume a subscription that is not paused, as Stripe does', async () => {
    const id = await subscriptionAfter('subscription_dunning_unpaid');
    await expect(h.stripe.subscriptions.resume(id)).rejects.toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError' });
    await expect(h.stripe.subscriptions.resume('sub_missing')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('an unpaid subscription\'s latest invoice, read with expand[]=latest_invoice, is paid on its hosted page: the subscription is active again', async () => {
    const id = await subscriptionAfter('subscription_dunning_unpaid');
    const sub = await h.stripe.subscriptions.retrieve(id, { expand: ['latest_invoice'] });
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(sub.status).toBe('unpaid');
    expect(invoice).toMatchObject({ status: 'open', billing_reason: 'subscription_cycle', attempt_count: 4, hosted_invoice_url: `${h.sim.url}/i/${invoice.id}` });
    h.receiver.received.length = 0;
    const paid = await payOnHostedPage(invoice.hosted_invoice_url!, 7);
    expect(paid.map((e) => e.type).slice(-2)).toEqual(['invoice.payment_succeeded', 'customer.subscription.updated']);
    expect(paid.at(-1)!.data).toMatchObject({ object: { status: 'active', latest_invoice: invoice.id }, previous_attributes: { status: 'unpaid' } });
    expect(await h.stripe.invoices.retrieve(invoice.id)).toMatchObject({ status: 'paid', attempt_count: 5, next_payment_attempt: null });
  });

  it('a journey started now runs weeks ahead of the wall clock; paying after it comes after it, as time only moves forward on Stripe', async () => {
    // What `pnpm simulate subscription_dunning_unpaid` does: the renewal and its dunning play out a month and more from now.
    const session = await h.subscriptionCheckout();
    const run = await h.sim.runJourney('subscription_dunning_unpaid', session.id);
    const journeyEnd = Math.max(...run.events.map((e) => e.created));
    expect(journeyEnd).toBeGreaterThan(Math.floor(Date.now() / 1000) + SUBSCRIPTION_PERIOD_S);
    const id = (await h.stripe.checkout.sessions.retrieve(session.id)).subscription as string;
    const invoice = (await h.stripe.subscriptions.retrieve(id, { expand: ['latest_invoice'] })).latest_invoice as Stripe.Invoice;
    h.receiver.received.length = 0;
    const paid = await payOnHostedPage(invoice.hosted_invoice_url!, 7);
    expect(Math.min(...paid.map((e) => e.created))).toBeGreaterThan(journeyEnd);
    expect(paid.at(-1)!.data).toMatchObject({ object: { status: 'active' }, previous_attributes: { status: 'unpaid' } });
    // A refund after it too.
    const charge = paid.find((e) => e.type === 'charge.succeeded')!.data.object as { id: string };
    const refund = await h.stripe.refunds.create({ charge: charge.id, amount: 100 });
    expect(refund.created).toBeGreaterThan(Math.max(...paid.map((e) => e.created)) - 1);
    expect(refund.created).toBeGreaterThan(journeyEnd);
  });
});
