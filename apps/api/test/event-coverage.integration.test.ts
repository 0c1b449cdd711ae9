import { randomUUID } from 'node:crypto';
import { TEST_BACKENDS } from '@settle/db/testing';
import { journeyEvents, type StripeEvent } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, orderState, seedOrder, send, snapshot, startApi, type TestApi, trpcClient, waitForInbox } from './harness.js';

const now = () => Math.floor(Date.now() / 1000);
type Obj = Record<string, unknown>;

/** A signed-event-shaped copy of `base` with another type, object and time. */
function derived(base: StripeEvent, type: string, object: Obj, created: number): StripeEvent {
  return { ...base, id: `evt_${randomUUID().replaceAll('-', '')}`, type, created, data: { object } } as StripeEvent;
}

async function eventRow(api: TestApi, id: string) {
  return api.db.selectFrom('stripe_events').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

describe.each(TEST_BACKENDS)('events Settle used to get wrong, through HTTP on %s', (kind) => {
  let api: TestApi;
  let admin: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    api = await startApi(kind, { UNMATCHED_MAX_ATTEMPTS: '1' });
    admin = await adminClient(api, `ops-${kind}`, 'operator');
  });
  afterAll(async () => {
    await api?.close();
  });

  /** A paid order (card_success delivered) and its journey's events. */
  async function paidOrder(journey: 'card_success' | 'full_refund' | 'partial_refund' = 'card_success', startAt = now() - 3600) {
    const order = await seedOrder(api.db);
    const events = journeyEvents(journey, { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt });
    for (const e of events) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    return { order, events };
  }
  const credits = async (userId: string) =>
    Number((await api.db.selectFrom('entitlements').select('credits').where('user_id', '=', userId).executeTakeFirstOrThrow()).credits);

  it('a refund that fails is undone: status, refunded amount and credits come back, once, with a timeline entry', async () => {
    const { order, events } = await paidOrder('full_refund');
    expect((await orderState(api.db, order.id)).order.status).toBe('refunded');
    expect(await credits(order.user_id)).toBe(0);

    const created = events.find((e) => e.type === 'refund.created')!;
    const refund = created.data.object as Obj;
    const failed = derived(created, 'refund.failed', { ...refund, status: 'failed', failure_reason: 'expired_or_canceled_card' }, created.created + 86_400);
    expect((await send(api, failed)).status).toBe(200);
    await waitForInbox(api.db);

    const after = await orderState(api.db, order.id);
    expect(after.order.status).toBe('succeeded');
    expect(Number(after.order.amount_refunded)).toBe(0);
    expect(await credits(order.user_id)).toBe(10);
    expect(after.transitions.at(-1)).toMatchObject({ from_status: 'refunded', to_status: 'succeeded', cause: 'stripe_event', event_id: failed.id });
    expect(after.transitions.at(-1)!.reason).toContain(`refund ${String(refund.id)} failed: expired_or_canceled_card`);
    const detail = await admin.admin.orders.get.query({ orderId: order.id });
    expect(detail.refunds).toEqual([expect.objectContaining({ refundId: refund.id, amount: 995, status: 'failed', failureReason: 'expired_or_canceled_card', undoneAt: expect.any(String) })]);

    // Redelivered, and the late charge.refunded that still counted it: nothing moves.
    const before = await snapshot(api.db);
    expect((await send(api, failed)).status).toBe(200);
    expect((await send(api, { ...events.find((e) => e.type === 'charge.refunded')!, id: `evt_${randomUUID().replaceAll('-', '')}` })).status).toBe(200);
    await waitForInbox(api.db);
    const again = await snapshot(api.db);
    expect(again.orders).toEqual(before.orders);
    expect(again.grants).toEqual(before.grants);
    expect(again.credit_ledger).toEqual(before.credit_ledger);
  });

  it('charge.refund.updated with status canceled undoes a partial refund', async () => {
    const { order, events } = await paidOrder('partial_refund');
    const { order: refunded } = await orderState(api.db, order.id);
    expect(refunded.status).toBe('partially_refunded');
    const created = events.find((e) => e.type === 'refund.created')!;
    const canceled = derived(created, 'charge.refund.updated', { ...(created.data.object as Obj), status: 'canceled' }, created.created + 60);
    await send(api, canceled);
    await waitForInbox(api.db);
    const { order: after } = await orderState(api.db, order.id);
    expect(after.status).toBe('succeeded');
    expect(Number(after.amount_refunded)).toBe(0);
  });

  it('Stripe reporting more refunded than the order was paid parks it for review; nothing is revoked', async () => {
    const { order, events } = await paidOrder();
    const charge = events.find((e) => e.type === 'charge.succeeded')!;
    const over = derived(charge, 'charge.refunded', { ...(charge.data.object as Obj), amount: 2000, amount_refunded: 2000, refunded: true }, charge.created + 60);
    await send(api, over);
    await waitForInbox(api.db);
    const { order: after, grants } = await orderState(api.db, order.id);
    expect(after.status).toBe('needs_review');
    expect(after.review_reason).toMatch(/^REFUND_EXCEEDS_PAYMENT/);
    expect(grants[0]!.credits_revoked).toBe(0);
    expect(await credits(order.user_id)).toBe(10);
  });

  it('a second successful payment for a paid order is recorded, listed and counted; the order stays as it is', async () => {
    const { order, events } = await paidOrder();
    const first = events.find((e) => e.type === 'payment_intent.succeeded')!;
    const pi = first.data.object as Obj;
    const second = derived(first, 'payment_intent.succeeded', { ...pi, id: `pi_dup_${order.id.slice(0, 8)}`, latest_charge: `ch_dup_${order.id.slice(0, 8)}` }, first.created + 120);
    const before = await orderState(api.db, order.id);
    for (let i = 0; i < 2; i++) expect((await send(api, second)).status).toBe(200);
    await waitForInbox(api.db);

    const after = await orderState(api.db, order.id);
    expect(after.order).toEqual(before.order);
    expect(after.grants).toEqual(before.grants);
    expect((await eventRow(api, second.id)).outcome).toBe('recorded:DUPLICATE_PAYMENT');
    const detail = await admin.admin.orders.get.query({ orderId: order.id });
    expect(detail.duplicatePayments).toEqual([
      { paymentIntentId: second.data.object.id, amount: 995, currency: 'usd', at: new Date(second.created * 1000).toISOString(), amountRefunded: 0 },
    ]);
    const listed = await admin.admin.orders.list.query({ incident: 'duplicate_payment' });
    expect(listed.items.map((o) => o.orderId)).toContain(order.id);
    const plain = await paidOrder();
    expect((await admin.admin.orders.list.query({ incident: 'duplicate_payment' })).items.map((o) => o.orderId)).not.toContain(plain.order.id);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(Number(metrics.match(/^settle_duplicate_payments_total (\d+)/m)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('events about objects Settle did not create are settled at once as ignored, never retried or unmatched', async () => {
    const { events } = await paidOrder();
    const pick = (t: string) => events.find((e) => e.type === t)!;
    const foreign = [
      derived(pick('checkout.session.completed'), 'checkout.session.completed', { ...(pick('checkout.session.completed').data.object as Obj), id: `cs_foreign_${kind}`, metadata: {}, payment_intent: `pi_foreign_a_${kind}` }, now()),
      derived(pick('payment_intent.succeeded'), 'payment_intent.succeeded', { ...(pick('payment_intent.succeeded').data.object as Obj), id: `pi_foreign_b_${kind}`, metadata: {} }, now()),
      derived(pick('payment_intent.succeeded'), 'payment_intent.payment_failed', { ...(pick('payment_intent.succeeded').data.object as Obj), id: `pi_foreign_c_${kind}`, metadata: {}, status: 'requires_payment_method' }, now()),
      derived(pick('invoice.paid'), 'invoice.paid', { ...(pick('invoice.paid').data.object as Obj), id: `in_foreign_${kind}`, metadata: {} }, now()),
    ];
    for (const e of foreign) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    for (const e of foreign) expect(await eventRow(api, e.id), e.type).toMatchObject({ state: 'ignored', attempts: 1, last_error: null });
    const listed = await admin.admin.events.list.query({ state: 'ignored', limit: 200 });
    expect(listed.items.map((i) => i.eventId)).toEqual(expect.arrayContaining(foreign.map((e) => e.id)));

    // An event naming a Settle order that does not exist is still waited for, then parked as unmatched.
    const missingOrder = derived(pick('payment_intent.succeeded'), 'payment_intent.succeeded', {
      ...(pick('payment_intent.succeeded').data.object as Obj), id: `pi_missing_${kind}`, metadata: { orderId: randomUUID() },
    }, now());
    await send(api, missingOrder);
    await waitForInbox(api.db);
    expect((await eventRow(api, missingOrder.id)).state).toBe('unmatched');
  });

  it('an invoice.payment_failed of API version 2018-01-23 (no billing_reason, `date`) is recorded on its order, not skipped', async () => {
    const order = await seedOrder(api.db);
    const at = now() - 600;
    const legacy = {
      id: `evt_legacy_${randomUUID().replaceAll('-', '')}`,
      object: 'event',
      api_version: '2018-01-23',
      created: at,
      livemode: false,
      pending_webhooks: 1,
      request: null,
      type: 'invoice.payment_failed',
      data: {
        object: {
          id: `in_legacy_${order.id.slice(0, 8)}`,
          object: 'invoice',
          amount_due: 995,
          amount_paid: 0,
          attempt_count: 1,
          attempted: true,
          billing: 'charge_automatically',
          charge: 'ch_legacy',
          closed: false,
          currency: 'usd',
          customer: 'cus_legacy',
          date: at,
          lines: { object: 'list', data: [{ id: 'sub_legacy', object: 'line_item', type: 'subscription', amount: 995, currency: 'usd', metadata: { orderId: order.id }, period: { start: at, end: at + 2_592_000 } }] },
          metadata: {},
          number: 'LEGACY-0001',
          paid: false,
          period_end: at,
          period_start: at - 2_592_000,
          subscription: 'sub_legacy',
        },
      },
    };
    expect((await send(api, legacy)).status).toBe(200);
    await waitForInbox(api.db);
    expect((await eventRow(api, legacy.id)).outcome).toBe('recorded');
    const invoice = await api.db.selectFrom('invoices').selectAll().where('order_id', '=', order.id).executeTakeFirstOrThrow();
    expect(invoice).toMatchObject({ id: legacy.data.object.id, number: 'LEGACY-0001', subscription_id: 'sub_legacy' });
  });
});
