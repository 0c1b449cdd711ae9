import { TEST_BACKENDS } from '@settle/db/testing';
import { journeyEvents, signPayload, type StripeEvent } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderState, seedOrder, send, snapshot, startApi, waitForInbox, WEBHOOK_SECRET, type TestApi } from './harness.js';

const now = () => Math.floor(Date.now() / 1000);
const byType = (events: StripeEvent[], ...types: string[]) =>
  types.map((t) => {
    const e = events.find((x) => x.type === t);
    if (!e) throw new Error(`journey has no ${t}`);
    return e;
  });

async function post(api: TestApi, body: string | Buffer, headers: Record<string, string>) {
  const res = await fetch(`${api.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.text() };
}

describe.each(TEST_BACKENDS)('Stripe webhook over HTTP on %s', (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind, { UNMATCHED_MAX_ATTEMPTS: '1' });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('confirms a card purchase once, on payment_intent.succeeded, at Stripe\'s time', async () => {
    const order = await seedOrder(api.db);
    const events = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: now() - 60 });
    // Stripe's real interleaving for a card Checkout.
    const sequence = byType(events, 'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'checkout.session.completed');
    for (const ev of sequence) expect((await send(api, ev)).status).toBe(200);
    await waitForInbox(api.db);
    const { order: after, grants, transitions } = await orderState(api.db, order.id);
    const succeeded = sequence[2]!;
    expect(after.status).toBe('succeeded');
    expect(after.paid_at?.getTime()).toBe(succeeded.created * 1000);
    expect(after.payment_intent_id).toBe((succeeded.data.object as { id: string }).id);
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ kind: 'credits', credits: 10, event_id: succeeded.id });
    expect(transitions.map((t) => [t.from_status, t.to_status, t.cause, t.event_id])).toEqual([
      ['pending', 'succeeded', 'stripe_event', succeeded.id],
    ]);
    const ent = await api.db.selectFrom('entitlements').selectAll().where('user_id', '=', order.user_id).executeTakeFirstOrThrow();
    expect(ent.credits).toBe(10);

    // Redelivery of everything: acknowledged, nothing changes.
    const before = await snapshot(api.db);
    for (const ev of sequence) {
      const r = await send(api, ev);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ received: true, duplicate: true });
    }
    await waitForInbox(api.db);
    expect(await snapshot(api.db)).toEqual(before);
  });

  it('keeps an async (unpaid) Checkout processing, without a grant, until the payment succeeds', async () => {
    const order = await seedOrder(api.db);
    const events = journeyEvents('async_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: now() - 3 * 86_400 - 60 });
    const [completed, succeeded] = byType(events, 'checkout.session.completed', 'payment_intent.succeeded');
    expect((await send(api, completed)).status).toBe(200);
    await waitForInbox(api.db);
    let state = await orderState(api.db, order.id);
    expect(state.order.status).toBe('processing');
    expect(state.grants).toHaveLength(0);
    expect((await send(api, succeeded)).status).toBe(200);
    await waitForInbox(api.db);
    state = await orderState(api.db, order.id);
    expect(state.order.status).toBe('succeeded');
    expect(state.grants).toHaveLength(1);
  });

  it('legacy orders are confirmed on checkout.session.completed', async () => {
    const order = await seedOrder(api.db, { handler: 'legacy' });
    const events = journeyEvents('async_failure', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: now() - 60 });
    const [completed] = byType(events, 'checkout.session.completed');
    expect((await send(api, completed)).status).toBe(200);
    await waitForInbox(api.db);
    const state = await orderState(api.db, order.id);
    expect(state.order.status).toBe('succeeded');
    expect(state.grants).toHaveLength(1);
  });

  it('parks a payment with the wrong amount for review and grants nothing', async () => {
    const order = await seedOrder(api.db);
    const events = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, chargedAmount: 1, currency: 'usd', startAt: now() - 60 });
    const [succeeded] = byType(events, 'payment_intent.succeeded');
    expect((await send(api, succeeded)).status).toBe(200);
    await waitForInbox(api.db);
    const state = await orderState(api.db, order.id);
    expect(state.order.status).toBe('needs_review');
    expect(state.order.review_reason).toMatch(/^AMOUNT_MISMATCH/);
    expect(state.grants).toHaveLength(0);
    expect(state.transitions.at(-1)).toMatchObject({ to_status: 'needs_review', cause: 'stripe_event' });
  });

  describe('hostile input changes nothing', () => {
    let order: Awaited<ReturnType<typeof seedOrder>>;
    let valid: StripeEvent;
    beforeAll(async () => {
      order = await seedOrder(api.db);
      valid = byType(
        journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: now() }),
        'payment_intent.succeeded',
      )[0]!;
    });

    const cases: [string, () => { body: string | Buffer; headers: Record<string, string> }, number, RegExp][] = [
      ['a missing signature', () => ({ body: JSON.stringify(valid), headers: {} }), 400, /Stripe-Signature/],
      ['a signature made with another secret', () => ({ body: JSON.stringify(valid), headers: { 'stripe-signature': signPayload(JSON.stringify(valid), 'whsec_other') } }), 400, /invalid signature/],
      ['a stale timestamp', () => ({ body: JSON.stringify(valid), headers: { 'stripe-signature': signPayload(JSON.stringify(valid), WEBHOOK_SECRET, now() - 301) } }), 400, /tolerance/],
      ['a tampered body', () => {
        const signed = JSON.stringify(valid);
        const tampered = signed.replace('"amount":995', '"amount":99500');
        return { body: tampered, headers: { 'stripe-signature': signPayload(signed, WEBHOOK_SECRET) } };
      }, 400, /invalid signature/],
      ['a signed body that is not JSON', () => ({ body: '{"id": "evt_1", trunc', headers: { 'stripe-signature': signPayload('{"id": "evt_1", trunc', WEBHOOK_SECRET) } }), 400, /not JSON/],
      ['signed JSON that is not a Stripe event', () => {
        const body = JSON.stringify({ id: 'evt_x', hello: 'world' });
        return { body, headers: { 'stripe-signature': signPayload(body, WEBHOOK_SECRET) } };
      }, 400, /not a Stripe event/],
      ['an oversized body', () => {
        const body = JSON.stringify({ ...valid, padding: 'x'.repeat(1024 * 1024) });
        return { body, headers: { 'stripe-signature': signPayload(body, WEBHOOK_SECRET) } };
      }, 413, /.*/],
    ];

    it.each(cases)('refuses %s', async (_name, make, status, message) => {
      const before = await snapshot(api.db);
      const { body, headers } = make();
      const res = await post(api, body, headers);
      expect(res.status).toBe(status);
      expect(res.body).toMatch(message);
      await waitForInbox(api.db);
      expect(await snapshot(api.db)).toEqual(before);
    });

    it('stores, acknowledges and parks as unmatched an event for an unknown order, touching no order', async () => {
      const before = await snapshot(api.db);
      const [stray] = byType(
        journeyEvents('card_success', { orderId: '00000000-0000-4000-8000-00000000beef', checkoutSessionId: 'cs_test_unknown', amount: 995, currency: 'usd', startAt: now() }),
        'payment_intent.succeeded',
      );
      expect((await send(api, stray)).status).toBe(200);
      await waitForInbox(api.db);
      const after = await snapshot(api.db);
      const { stripe_events: eventsAfter, ...restAfter } = after;
      const { stripe_events: eventsBefore, ...restBefore } = before;
      expect(restAfter).toEqual(restBefore);
      expect(eventsAfter).toHaveLength(eventsBefore!.length + 1);
      const row = await api.db.selectFrom('stripe_events').selectAll().where('id', '=', stray!.id).executeTakeFirstOrThrow();
      expect(row.state).toBe('unmatched');
      expect(row.last_error).toMatch(/no order matches/);
    });

    it('records an unknown event type as not supported, never an error', async () => {
      const ev = { ...valid, id: `evt_unknown_${Date.now()}`, type: 'customer.tax_id.created', data: { object: { id: 'txi_1' } } };
      expect((await send(api, ev)).status).toBe(200);
      await waitForInbox(api.db);
      const row = await api.db.selectFrom('stripe_events').selectAll().where('id', '=', ev.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ state: 'processed', outcome: 'unsupported' });
    });

    it('stores an event of a type Settle never acts on already settled: never claimed or attempted; the types it acts on wait for processing', async () => {
      const journey = journeyEvents('card_success', { orderId: '00000000-0000-4000-8000-00000000cafe', checkoutSessionId: 'cs_test_on_receipt', amount: 995, currency: 'usd', startAt: now() });
      const [charge] = byType(journey, 'charge.succeeded');
      const [intent] = byType(journey, 'payment_intent.created');
      // Processing held back: whatever the row says right after the 2xx is what the route stored.
      const held = await startApi(kind, { WORKER_CONCURRENCY: '0' });
      const attempted = () => held.db.selectFrom('stripe_events').select(['id', 'state', 'outcome', 'attempts', 'processed_at']);
      try {
        expect((await send(held, charge)).status).toBe(200);
        expect((await send(held, intent)).status).toBe(200);
        const stored = await attempted().where('id', '=', charge!.id).executeTakeFirstOrThrow();
        expect(stored).toMatchObject({ state: 'processed', outcome: 'unsupported', attempts: 0 });
        expect(stored.processed_at).not.toBeNull();
        expect(await attempted().where('id', '=', intent!.id).executeTakeFirstOrThrow()).toMatchObject({ state: 'pending', outcome: null, attempts: 0, processed_at: null });
        // A redelivery is a duplicate like any other.
        expect(JSON.parse((await send(held, charge)).body)).toEqual({ received: true, duplicate: true });
      } finally {
        await held.close();
      }
    });
  });
});

describe('events Settle did not cause', () => {
  it('settles a PaymentIntent event without Settle metadata at once as ignored instead of retrying it', async () => {
    const api = await startApi('pglite');
    try {
      const ev = {
        id: `evt_foreign_${Date.now()}`, object: 'event', api_version: '2026-10-28.endive', created: now(), livemode: false,
        pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'payment_intent.succeeded',
        data: { object: { id: 'pi_foreign_1', object: 'payment_intent', amount: 500, amount_received: 500, currency: 'usd', metadata: {}, status: 'succeeded' } },
      };
      expect((await send(api, ev)).status).toBe(200);
      await waitForInbox(api.db);
      const row = await api.db.selectFrom('stripe_events').selectAll().where('id', '=', ev.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ state: 'ignored', outcome: 'not_settle', attempts: 1 });
    } finally {
      await api.close();
    }
  });
});
