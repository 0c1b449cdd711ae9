import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { EXPECTED_SUBSCRIPTION_OUTCOME, journeyEvents, PAYMENT_JOURNEYS, SUBSCRIPTION_JOURNEYS, SUBSCRIPTION_PERIOD_S } from './journeys.js';
import { startStripeSimulator, type StripeSimulator } from './simulator.js';

const SECRET = 'whsec_simulator_test';

type Receiver = {
  url: string;
  received: Stripe.Event[];
  rejected: string[];
  /** Answer this many deliveries with 500 before accepting. */
  failNext: number;
  waitFor(n: number, timeoutMs?: number): Promise<Stripe.Event[]>;
  close(): Promise<void>;
};

/** A webhook endpoint that accepts only events whose Stripe-Signature verifies. */
async function startReceiver(stripe: Stripe): Promise<Receiver> {
  const r = { received: [] as Stripe.Event[], rejected: [] as string[], failNext: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (r.failNext > 0) {
        r.failNext -= 1;
        res.writeHead(500).end('not yet');
        return;
      }
      try {
        const event = stripe.webhooks.constructEvent(Buffer.concat(chunks), String(req.headers['stripe-signature']), SECRET);
        r.received.push(event);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
      } catch (err) {
        r.rejected.push(err instanceof Error ? err.message : String(err));
        res.writeHead(400).end('bad signature');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`;
  return Object.assign(r, {
    url,
    async waitFor(n: number, timeoutMs = 2_000) {
      const until = Date.now() + timeoutMs;
      while (r.received.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} webhooks, got ${r.received.length}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return r.received;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

let sim: StripeSimulator;
let stripe: Stripe;
let receiver: Receiver;

beforeAll(async () => {
  sim = await startStripeSimulator({
    prices: { price_credits10: { unit_amount: 995, currency: 'usd', name: '10 credits' } },
    retryDelayMs: 5,
    maxDeliveryAttempts: 5,
  });
  stripe = new Stripe('sk_test_sim', { host: '127.0.0.1', port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
  receiver = await startReceiver(stripe);
  sim.configureWebhook({ url: receiver.url, secret: SECRET });
});

afterAll(async () => {
  await sim?.close();
  await receiver?.close();
});

beforeEach(() => {
  receiver.received.length = 0;
  receiver.rejected.length = 0;
  receiver.failNext = 0;
});

/** A session as Settle's checkout.service creates it. */
async function createCheckout(orderId: string = crypto.randomUUID(), opts: { invoice?: boolean; quantity?: number } = {}) {
  const customer = await stripe.customers.create({ metadata: { userId: 'user-1' } });
  return stripe.checkout.sessions.create(
    {
      mode: 'payment',
      customer: customer.id,
      client_reference_id: 'user-1',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 995, product_data: { name: '10 credits' } }, quantity: opts.quantity ?? 2 }],
      metadata: { orderId, userId: 'user-1', productId: 'credits10' },
      payment_intent_data: { metadata: { orderId, userId: 'user-1' } },
      ...(opts.invoice === false ? {} : { invoice_creation: { enabled: true, invoice_data: { metadata: { orderId } } } }),
      success_url: `http://localhost:3000/checkout/success?orderId=${orderId}&session={CHECKOUT_SESSION_ID}`,
      cancel_url: `http://localhost:3000/checkout/cancel?orderId=${orderId}`,
    },
    { idempotencyKey: `settle-checkout-${orderId}` },
  );
}

describe('Stripe API through the official SDK', () => {
  it('creates and retrieves customers, replaying an idempotent create', async () => {
    const a = await stripe.customers.create({ email: 'ada@example.com', metadata: { userId: 'u-42' } }, { idempotencyKey: 'settle-customer-u-42' });
    const b = await stripe.customers.create({ email: 'ada@example.com', metadata: { userId: 'u-42' } }, { idempotencyKey: 'settle-customer-u-42' });
    expect(a.id).toMatch(/^cus_/);
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
    const got = await stripe.customers.retrieve(a.id);
    expect(got).toMatchObject({ id: a.id, object: 'customer', email: 'ada@example.com', metadata: { userId: 'u-42' } });

    const reuse = stripe.customers.create({ email: 'other@example.com' }, { idempotencyKey: 'settle-customer-u-42' });
    await expect(reuse).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    await expect(reuse).rejects.toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
  });

  it('creates a Checkout Session from price_data, once per idempotency key', async () => {
    const orderId = crypto.randomUUID();
    const session = await createCheckout(orderId);
    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'payment',
      status: 'open',
      payment_status: 'unpaid',
      payment_intent: null,
      amount_total: 1990,
      amount_subtotal: 1990,
      currency: 'usd',
      client_reference_id: 'user-1',
      metadata: { orderId, userId: 'user-1', productId: 'credits10' },
      invoice_creation: { enabled: true, invoice_data: { metadata: { orderId } } },
    });
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.url).toBe(`${sim.url}/c/pay/${session.id}`);
    expect(session.expires_at - session.created).toBe(86_400);

    // Settle's retry of the same checkout: same key, same parameters, same session.
    const again = await stripe.checkout.sessions.create(
      {
        mode: 'payment',
        customer: session.customer as string,
        client_reference_id: 'user-1',
        line_items: [{ price_data: { currency: 'usd', unit_amount: 995, product_data: { name: '10 credits' } }, quantity: 2 }],
        metadata: { orderId, userId: 'user-1', productId: 'credits10' },
        payment_intent_data: { metadata: { orderId, userId: 'user-1' } },
        invoice_creation: { enabled: true, invoice_data: { metadata: { orderId } } },
        success_url: `http://localhost:3000/checkout/success?orderId=${orderId}&session={CHECKOUT_SESSION_ID}`,
        cancel_url: `http://localhost:3000/checkout/cancel?orderId=${orderId}`,
      },
      { idempotencyKey: `settle-checkout-${orderId}` },
    );
    expect(again.id).toBe(session.id);
    expect(sim.state.checkoutSessions.size).toBeGreaterThanOrEqual(1);
    expect([...sim.state.checkoutSessions.keys()].filter((id) => id === session.id)).toHaveLength(1);

    const retrieved = await stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] });
    expect(retrieved.id).toBe(session.id);
    expect(retrieved.line_items?.data[0]).toMatchObject({ object: 'item', quantity: 2, amount_total: 1990, description: '10 credits' });
  });

  it('prices line items given by a known price id and refuses an unknown one', async () => {
    const s = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price: 'price_credits10', quantity: 3 }], success_url: 'http://localhost/s' });
    expect(s.amount_total).toBe(2985);
    const unknown = stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price: 'price_nope', quantity: 1 }] });
    await expect(unknown).rejects.toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, code: 'resource_missing', param: 'line_items[0][price]' });
  });

  it('answers validation errors in Stripe shape', async () => {
    await expect(stripe.checkout.sessions.create({ line_items: [{ price: 'price_credits10', quantity: 1 }] } as Stripe.Checkout.SessionCreateParams))
      .rejects.toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'mode' });
    await expect(stripe.checkout.sessions.create({ mode: 'payment', customer: 'cus_missing', line_items: [{ price: 'price_credits10', quantity: 1 }] }))
      .rejects.toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'customer', message: "No such customer: 'cus_missing'" });
    await expect(stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price: 'price_credits10', quantity: 1 }], bogus: 1 } as Stripe.Checkout.SessionCreateParams))
      .rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'bogus' });
    await expect(stripe.checkout.sessions.create({ mode: 'subscription', line_items: [{ price: 'price_credits10', quantity: 1 }] }))
      .rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('recurring price') });
  });

  it('404s unknown objects and unknown endpoints with StripeInvalidRequestError', async () => {
    const missing = stripe.checkout.sessions.retrieve('cs_test_nope');
    await expect(missing).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    await expect(missing).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'id', message: "No such checkout.session: 'cs_test_nope'" });
    await expect(stripe.paymentIntents.retrieve('pi_nope')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
    await expect(stripe.products.list()).rejects.toMatchObject({ statusCode: 404, message: expect.stringContaining('Unrecognized request URL (GET: /v1/products)') });
  });

  it('requires a secret key', async () => {
    const bad = new Stripe('pk_test_123', { host: '127.0.0.1', port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
    await expect(bad.customers.create({})).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    const res = await fetch(`${sim.url}/v1/customers`, { method: 'POST' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { type: string; message: string } }).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('You did not provide an API key') });
  });

  it('expires an open session, once, and tells the webhook', async () => {
    const session = await createCheckout();
    const expired = await stripe.checkout.sessions.expire(session.id);
    expect(expired).toMatchObject({ status: 'expired', url: null, payment_status: 'unpaid' });
    const [event] = await receiver.waitFor(1);
    expect(event).toMatchObject({ type: 'checkout.session.expired', data: { object: { id: session.id, status: 'expired' } } });
    expect(event!.request?.id).toMatch(/^req_/);
    await expect(stripe.checkout.sessions.expire(session.id)).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('Only Checkout Sessions with a status in ["open"]') });
  });
});

describe('journeys', () => {
  it('card_success: every event arrives signed, and the API reflects the payment', async () => {
    const orderId = crypto.randomUUID();
    const session = await createCheckout(orderId);
    const run = await sim.runJourney('card_success', session.id);
    const expectedTypes = journeyEvents('card_success', { orderId, checkoutSessionId: session.id, amount: 1990, currency: 'usd', startAt: 0 }).map((e) => e.type);
    expect(run.events.map((e) => e.type)).toEqual(expectedTypes);
    expect(run.deliveries.every((d) => d.ok && d.status === 200 && d.attempts === 1)).toBe(true);
    expect(receiver.rejected).toEqual([]);
    expect(receiver.received.map((e) => e.id).sort()).toEqual(run.events.map((e) => e.id).sort());

    const completed = receiver.received.find((e) => e.type === 'checkout.session.completed')!.data.object as Stripe.Checkout.Session;
    expect(completed).toMatchObject({ id: session.id, status: 'complete', payment_status: 'paid', client_reference_id: 'user-1', metadata: { orderId, productId: 'credits10' } });
    const piId = completed.payment_intent as string;
    const succeeded = receiver.received.find((e) => e.type === 'payment_intent.succeeded')!.data.object as Stripe.PaymentIntent;
    expect(succeeded.metadata).toEqual({ orderId, userId: 'user-1' });

    // What a reconciler sees afterwards.
    const pi = await stripe.paymentIntents.retrieve(piId);
    expect(pi).toMatchObject({ id: piId, status: 'succeeded', amount: 1990, amount_received: 1990, metadata: { orderId, userId: 'user-1' } });
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ status: 'succeeded', paid: true, amount: 1990, payment_intent: piId });
    const after = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect(after).toMatchObject({ status: 'complete', payment_status: 'paid', url: null });
    expect((after.payment_intent as Stripe.PaymentIntent).status).toBe('succeeded');
    const invoice = await stripe.invoices.retrieve(after.invoice as string);
    expect(invoice).toMatchObject({ status: 'paid', amount_paid: 1990, metadata: { orderId } });
    const stored = await stripe.events.retrieve(run.events[0]!.id);
    expect(stored.type).toBe('payment_intent.created');

    await expect(sim.runJourney('card_success', session.id)).rejects.toThrow(/needs an open session/);
  });

  it('delivers duplicates and shuffles when asked', async () => {
    const session = await createCheckout();
    const run = await sim.runJourney('three_d_secure', session.id, { duplicates: 1, shuffle: true, seed: 7 });
    expect(run.deliveries).toHaveLength(run.events.length * 2);
    await receiver.waitFor(run.events.length * 2);
    for (const ev of run.events) expect(receiver.received.filter((r) => r.id === ev.id)).toHaveLength(2);
    expect(run.deliveries.map((d) => d.eventId)).not.toEqual([...run.events, ...run.events].map((e) => e.id));
  });

  it('retries a delivery until the endpoint acknowledges it', async () => {
    const session = await createCheckout();
    receiver.failNext = 2;
    const run = await sim.runJourney('session_expired', session.id);
    expect(run.deliveries).toEqual([expect.objectContaining({ type: 'checkout.session.expired', ok: true, status: 200, attempts: 3, statuses: { 200: 1, 500: 2 } })]);
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('expired');
  });

  it('async_failure leaves an unpaid session and a failed intent; no invoice without invoice_creation', async () => {
    const session = await createCheckout(undefined, { invoice: false });
    const run = await sim.runJourney('card_success', session.id, { deliver: false });
    expect(run.deliveries).toEqual([]);
    expect(run.events.some((e) => e.type.startsWith('invoice.'))).toBe(false);
    expect((await stripe.checkout.sessions.retrieve(session.id)).invoice).toBeNull();

    const other = await createCheckout();
    await sim.runJourney('async_failure', other.id, { deliver: false });
    const s = await stripe.checkout.sessions.retrieve(other.id);
    expect(s).toMatchObject({ status: 'complete', payment_status: 'unpaid' });
    const pi = await stripe.paymentIntents.retrieve(s.payment_intent as string);
    expect(pi.status).toBe('requires_payment_method');
    expect(pi.last_payment_error?.code).toBe('payment_method_insufficient_funds');
    await expect(stripe.refunds.create({ payment_intent: pi.id })).rejects.toMatchObject({ statusCode: 400, code: 'charge_not_refundable' });
  });

  it('refunds: partial, then the remainder, then nothing left', async () => {
    const session = await createCheckout();
    const run = await sim.runJourney('card_success', session.id);
    const piId = (await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string;
    receiver.received.length = 0;

    const partial = await stripe.refunds.create({ payment_intent: piId, amount: 500, reason: 'requested_by_customer', metadata: { by: 'admin' } }, { idempotencyKey: `refund-${piId}-1` });
    expect(partial).toMatchObject({ object: 'refund', amount: 500, status: 'succeeded', payment_intent: piId, reason: 'requested_by_customer', metadata: { by: 'admin' } });
    const replay = await stripe.refunds.create({ payment_intent: piId, amount: 500, reason: 'requested_by_customer', metadata: { by: 'admin' } }, { idempotencyKey: `refund-${piId}-1` });
    expect(replay.id).toBe(partial.id);
    const webhooks = await receiver.waitFor(2);
    expect(webhooks.map((e) => e.type).sort()).toEqual(['charge.refunded', 'refund.created']);
    const refundedEvent = webhooks.find((e) => e.type === 'charge.refunded')!;
    expect(refundedEvent.data.object).toMatchObject({ amount_refunded: 500, refunded: false });
    expect(refundedEvent.data.previous_attributes).toEqual({ amount_refunded: 0, refunded: false });
    expect(refundedEvent.request).toEqual({ id: expect.stringMatching(/^req_/), idempotency_key: `refund-${piId}-1` });

    await expect(stripe.refunds.create({ payment_intent: piId, amount: 5000 })).rejects.toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });
    const rest = await stripe.refunds.create({ charge: partial.charge as string });
    expect(rest.amount).toBe(1490);
    const charge = await stripe.charges.retrieve(partial.charge as string);
    expect(charge).toMatchObject({ amount_refunded: 1990, refunded: true });
    expect((await stripe.paymentIntents.retrieve(piId)).status).toBe('succeeded');
    await expect(stripe.refunds.create({ payment_intent: piId })).rejects.toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });
    await receiver.waitFor(4);
    expect(run.events.length).toBeGreaterThan(0);
  });

  it('a lost dispute marks the charge disputed, which then refuses refunds', async () => {
    const session = await createCheckout();
    const run = await sim.runJourney('dispute_lost', session.id, { deliver: false });
    expect(run.events.at(-1)!.type).toBe('charge.dispute.closed');
    const pi = await stripe.paymentIntents.retrieve((await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string);
    expect((await stripe.charges.retrieve(pi.latest_charge as string)).disputed).toBe(true);
    await expect(stripe.refunds.create({ payment_intent: pi.id })).rejects.toMatchObject({ code: 'charge_disputed' });
  });

  it('lists events newest first and pages through them', async () => {
    const page = await stripe.events.list({ limit: 3 });
    expect(page).toMatchObject({ object: 'list', has_more: true });
    expect(page.data).toHaveLength(3);
    const all = sim.events();
    expect(page.data.map((e) => e.id)).toEqual(all.slice(-3).reverse().map((e) => e.id));
    const paged = await stripe.events.list({ limit: 4 }).autoPagingToArray({ limit: 10_000 });
    expect(paged.map((e) => e.id)).toEqual([...all].reverse().map((e) => e.id));
    const refunds = await stripe.events.list({ type: 'charge.*', limit: 100 });
    expect(refunds.data.length).toBeGreaterThan(0);
    expect(refunds.data.every((e) => e.type.startsWith('charge.'))).toBe(true);
  });
});

describe('control API, hosted page and CLI', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { env: { SIMULATOR_URL: sim.url }, out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  };

  it('runs a journey on the newest open session over HTTP', async () => {
    const session = await createCheckout();
    const res = await fetch(`${sim.url}/_sim/journeys/card_success`, { method: 'POST', body: JSON.stringify({ duplicates: false }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { session: { id: string; status: string }; deliveries: { event_id: string; status: number; ok: boolean }[] };
    expect(body.session).toMatchObject({ id: session.id, status: 'complete' });
    expect(body.deliveries).toHaveLength(7);
    expect(body.deliveries.every((d) => d.ok && d.status === 200)).toBe(true);

    const sessions = (await (await fetch(`${sim.url}/_sim/sessions`)).json()) as { sessions: { id: string }[] };
    expect(sessions.sessions[0]!.id).toBe(session.id);
    const unknown = await fetch(`${sim.url}/_sim/journeys/teleport`, { method: 'POST' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { valid_journeys: string[] } }).error.valid_journeys).toEqual([...PAYMENT_JOURNEYS]);
  });

  it('the hosted page runs the chosen journey and redirects to success_url', async () => {
    const session = await createCheckout('order-page');
    const page = await fetch(session.url!);
    expect(await page.text()).toContain('value="card_success"');
    const res = await fetch(session.url!, { method: 'POST', body: 'journey=card_success', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`http://localhost:3000/checkout/success?orderId=order-page&session=${session.id}`);
    await receiver.waitFor(7);
  });

  it('settle-simulate runs a journey and prints the deliveries', async () => {
    const session = await createCheckout('order-cli');
    const { out, err, io: cliIo } = io();
    const code = await main(['partial_refund', '--session', session.id, '--duplicates', '--seed', '3'], cliIo);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out[0]).toBe(`partial_refund on ${session.id} (order order-cli)`);
    expect(out.join('\n')).toMatch(/✓ 200 {2}refund\.created/);
    expect(out.at(-1)).toMatch(/acknowledged, 0 failed$/);

    const listed = io();
    expect(await main(['sessions'], listed.io)).toBe(0);
    expect(listed.out[0]).toContain(session.id);
  });

  it('settle-simulate refuses an unknown journey and an unreachable simulator', async () => {
    const { err, io: cliIo } = io();
    expect(await main(['teleport'], cliIo)).toBe(1);
    expect(err.join('\n')).toContain("unknown journey 'teleport'");
    for (const j of PAYMENT_JOURNEYS) expect(err.join('\n')).toContain(j);

    const down = io();
    expect(await main(['card_success'], { ...down.io, env: { SIMULATOR_URL: 'http://127.0.0.1:1' } })).toBe(1);
    expect(down.err[0]).toContain('cannot reach the Stripe simulator at http://127.0.0.1:1');
  });
});

describe('subscription journeys', () => {
  async function subscriptionCheckout(orderId: string = crypto.randomUUID()) {
    const customer = await stripe.customers.create({ metadata: { userId: 'user-1' } });
    return stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      line_items: [{ price_data: { currency: 'usd', unit_amount: 1999, product_data: { name: 'Pro plan' }, recurring: { interval: 'month' } }, quantity: 1 }],
      metadata: { orderId },
      subscription_data: { metadata: { orderId, userId: 'user-1' } },
      success_url: 'http://localhost:3000/checkout/success',
    });
  }

  it.each(SUBSCRIPTION_JOURNEYS)('%s: signed events with the subscription and its invoices, reflected by the API', async (journey) => {
    const orderId = crypto.randomUUID();
    const session = await subscriptionCheckout(orderId);
    const startAt = 1_750_000_000;
    const run = await sim.runJourney(journey, session.id, { startAt });
    const events = await receiver.waitFor(run.events.length);
    expect(events.map((e) => e.type)).toEqual(run.events.map((e) => e.type));

    const done = await stripe.checkout.sessions.retrieve(session.id);
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid', mode: 'subscription', subscription: expect.stringMatching(/^sub_/) });
    const sub = await stripe.subscriptions.retrieve(done.subscription as string);
    const expected = EXPECTED_SUBSCRIPTION_OUTCOME[journey];
    expect(sub.metadata).toEqual({ orderId, userId: 'user-1' });
    expect(sub.items.data[0]!.current_period_end).toBe(startAt + expected.periodEndAfterPeriods * SUBSCRIPTION_PERIOD_S);
    expect(sub.status).toBe({ active: 'active', past_due: 'past_due', cancel_at_period_end: 'active', canceled: 'canceled' }[expected.subscriptionStatus]);

    const invoiceIds = new Set(run.events.filter((e) => e.type.startsWith('invoice.')).map((e) => (e.data.object as { id: string }).id));
    expect(invoiceIds.size).toBe(expected.invoices);
    for (const id of invoiceIds) {
      const invoice = await stripe.invoices.retrieve(id);
      expect(invoice.parent?.subscription_details).toMatchObject({ subscription: sub.id, metadata: { orderId } });
      expect(invoice.billing_reason).toMatch(/^subscription_(create|cycle)$/);
    }
  });

  it('runs subscription journeys only on subscription-mode sessions, and payment journeys only on payment-mode ones', async () => {
    const sub = await subscriptionCheckout();
    const pay = await createCheckout();
    await expect(sim.runJourney('card_success', sub.id)).rejects.toMatchObject({ status: 409 });
    await expect(sim.runJourney('subscription_renew', pay.id)).rejects.toMatchObject({ status: 409 });
    const res = await fetch(`${sim.url}/_sim/journeys/subscription_cancel`, { method: 'POST', body: JSON.stringify({ sessionId: sub.id }) });
    expect(res.status).toBe(200);
    await expect(stripe.checkout.sessions.create({
      mode: 'payment', line_items: [{ price: 'price_credits10', quantity: 1 }], subscription_data: { metadata: { orderId: 'x' } },
    })).rejects.toMatchObject({ statusCode: 400, param: 'subscription_data' });
  });
});
