import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { useSimulator } from './test-support.js';

const h = useSimulator();

describe('Stripe API through the official SDK', () => {
  it('creates and retrieves customers, replaying an idempotent create', async () => {
    const a = await h.stripe.customers.create({ email: 'ada@example.com', metadata: { userId: 'u-42' } }, { idempotencyKey: 'settle-customer-u-42' });
    const b = await h.stripe.customers.create({ email: 'ada@example.com', metadata: { userId: 'u-42' } }, { idempotencyKey: 'settle-customer-u-42' });
    expect(a.id).toMatch(/^cus_/);
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
    const got = await h.stripe.customers.retrieve(a.id);
    expect(got).toMatchObject({ id: a.id, object: 'customer', email: 'ada@example.com', metadata: { userId: 'u-42' } });

    const reuse = h.stripe.customers.create({ email: 'other@example.com' }, { idempotencyKey: 'settle-customer-u-42' });
    await expect(reuse).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    await expect(reuse).rejects.toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
  });

  it('creates a Checkout Session from price_data, once per idempotency key', async () => {
    const orderId = crypto.randomUUID();
    const session = await h.createCheckout(orderId);
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
    expect(session.url).toBe(`${h.sim.url}/c/pay/${session.id}`);
    expect(session.expires_at - session.created).toBe(86_400);

    // Settle's retry of the same checkout: same key, same parameters, same session.
    const again = await h.stripe.checkout.sessions.create(
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
    expect(h.sim.state.checkoutSessions.size).toBeGreaterThanOrEqual(1);
    expect([...h.sim.state.checkoutSessions.keys()].filter((id) => id === session.id)).toHaveLength(1);

    const retrieved = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] });
    expect(retrieved.id).toBe(session.id);
    expect(retrieved.line_items?.data[0]).toMatchObject({ object: 'item', quantity: 2, amount_total: 1990, description: '10 credits' });
  });

  it('prices line items given by a known price id and refuses an unknown one', async () => {
    const s = await h.stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price: 'price_credits10', quantity: 3 }], success_url: 'http://localhost/s' });
    expect(s.amount_total).toBe(2985);
    const unknown = h.stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price: 'price_nope', quantity: 1 }] });
    await expect(unknown).rejects.toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, code: 'resource_missing', param: 'line_items[0][price]' });
  });

  it('answers validation errors in Stripe shape', async () => {
    await expect(h.stripe.checkout.sessions.create({ line_items: [{ price: 'price_credits10', quantity: 1 }] } as Stripe.Checkout.SessionCreateParams))
      .rejects.toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'mode' });
    await expect(h.stripe.checkout.sessions.create({ mode: 'payment', customer: 'cus_missing', line_items: [{ price: 'price_credits10', quantity: 1 }] }))
      .rejects.toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'customer', message: "No such customer: 'cus_missing'" });
    await expect(h.stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price: 'price_credits10', quantity: 1 }], bogus: 1 } as Stripe.Checkout.SessionCreateParams))
      .rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'bogus' });
    await expect(h.stripe.checkout.sessions.create({ mode: 'subscription', line_items: [{ price: 'price_credits10', quantity: 1 }] }))
      .rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('recurring price') });
  });

  it('404s unknown objects and unknown endpoints with StripeInvalidRequestError', async () => {
    const missing = h.stripe.checkout.sessions.retrieve('cs_test_nope');
    await expect(missing).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    await expect(missing).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'id', message: "No such checkout.session: 'cs_test_nope'" });
    await expect(h.stripe.paymentIntents.retrieve('pi_nope')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
    await expect(h.stripe.products.list()).rejects.toMatchObject({ statusCode: 404, message: expect.stringContaining('Unrecognized request URL (GET: /v1/products)') });
  });

  it('requires a secret key', async () => {
    const bad = new Stripe('pk_test_123', { host: '127.0.0.1', port: h.sim.port, protocol: 'http', maxNetworkRetries: 0 });
    await expect(bad.customers.create({})).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    const res = await fetch(`${h.sim.url}/v1/customers`, { method: 'POST' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { type: string; message: string } }).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('You did not provide an API key') });
  });

  it('expires an open session, once, and tells the webhook', async () => {
    const session = await h.createCheckout();
    const expired = await h.stripe.checkout.sessions.expire(session.id);
    expect(expired).toMatchObject({ status: 'expired', url: null, payment_status: 'unpaid' });
    const [event] = await h.receiver.waitFor(1);
    expect(event).toMatchObject({ type: 'checkout.session.expired', data: { object: { id: session.id, status: 'expired' } } });
    expect(event!.request?.id).toMatch(/^req_/);
    await expect(h.stripe.checkout.sessions.expire(session.id)).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('Only Checkout Sessions with a status in ["open"]') });
  });
});

