/**
 * Money after a one-time payment (found by a review, each failing before its fix): each test
 * states what Stripe did and what the customer or merchant is owed.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { event } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, orderState, seedOrder, send, startApi, waitForInbox, type TestApi } from './harness.js';

const id = (prefix: string) => `${prefix}_${randomUUID().replaceAll('-', '')}`;

/** Basil-shaped events for one payment of an order (amount in minor units). */
function payment(orderId: string, amount = 995) {
  const pi = id('pi');
  const ch = id('ch');
  return {
    pi,
    ch,
    succeeded: (at: number) =>
      event('payment_intent.succeeded', at, { id: pi, object: 'payment_intent', amount, amount_received: amount, currency: 'usd', created: at, latest_charge: ch, metadata: { orderId }, status: 'succeeded', last_payment_error: null }, ''),
    chargeRefunded: (at: number, amountRefunded: number) =>
      event('charge.refunded', at, { id: ch, object: 'charge', amount, amount_refunded: amountRefunded, currency: 'usd', created: at, payment_intent: pi, refunded: amountRefunded >= amount, status: 'succeeded', metadata: { orderId } }, ''),
    refund: (type: string, at: number, refundId: string, refundAmount: number, status: string, createdAt = at) =>
      event(type, at, { id: refundId, object: 'refund', amount: refundAmount, charge: ch, currency: 'usd', created: createdAt, payment_intent: pi, status, reason: 'requested_by_customer', failure_reason: status === 'failed' ? 'expired_or_canceled_card' : null, metadata: { orderId } }, ''),
  };
}

describe.each(TEST_BACKENDS)('money after a one-time payment on %s', (kind) => {
  let api: TestApi;
  let admin: Awaited<ReturnType<typeof adminClient>>;
  const t0 = Math.floor(Date.now() / 1000) - 5000;
  beforeAll(async () => {
    api = await startApi(kind, { UNMATCHED_MAX_ATTEMPTS: '1' });
    admin = await adminClient(api, `ops_review_${kind}`);
  });
  afterAll(async () => {
    await api?.close();
  });

  const deliver = async (...events: unknown[]) => {
    for (const e of events) {
      expect((await send(api, e)).status).toBe(200);
      await waitForInbox(api.db);
    }
  };

  it('a refund of a duplicate payment that failed, whose first report is refund.failed (refund.created still on the way), leaves the duplicate owed', async () => {
    const order = await seedOrder(api.db, { userId: `u_dup_fail_${kind}` });
    const own = payment(order.id);
    const dup = payment(order.id);
    await deliver(own.succeeded(t0), dup.succeeded(t0 + 5));
    expect((await admin.admin.orders.get.query({ orderId: order.id })).duplicatePayments).toHaveLength(1);

    // The merchant refunds the duplicate; Stripe reports it on the charge, then the refund fails
    // (closed card). refund.created is delivered late (Stripe does not order deliveries).
    const refundId = id('re');
    await deliver(
      dup.chargeRefunded(t0 + 100, 995),
      dup.refund('refund.failed', t0 + 200, refundId, 995, 'failed', t0 + 100),
      dup.refund('refund.created', t0 + 100, refundId, 995, 'pending'),
    );

    const detail = await admin.admin.orders.get.query({ orderId: order.id });
    expect(detail.refunds.find((r) => r.refundId === refundId)).toMatchObject({ status: 'failed' });
    // Stripe: the charge's amount_refunded is 0 again; the customer is still charged twice.
    expect(detail.duplicatePayments[0]!.amountRefunded, 'the failed refund still counts as money returned').toBe(0);
    expect((await admin.admin.orders.list.query({ incident: 'duplicate_payment' })).items.map((o) => o.orderId)).toContain(order.id);
  });

  it('a partial refund made while an operator holds the paid order in review is kept, and counted when the order leaves review as partially refunded', async () => {
    const userId = `u_review_refund_${kind}`;
    const order = await seedOrder(api.db, { userId });
    const p = payment(order.id);
    await deliver(p.succeeded(t0));
    await admin.admin.orders.override.mutate({ orderId: order.id, to: 'needs_review', reason: 'customer says the card was stolen; checking (INC-5)' });
    // While in review, the merchant refunds half in Stripe's dashboard.
    await deliver(p.refund('refund.created', t0 + 100, id('re'), 497, 'succeeded'), p.chargeRefunded(t0 + 100, 497));
    const inReview = (await orderState(api.db, order.id)).order;
    // The card was not stolen after all: the operator puts the order back to paid, less what was refunded.
    await admin.admin.orders.override.mutate({ orderId: order.id, to: 'partially_refunded', reason: 'card owner confirmed the purchase (INC-5)' });
    const after = await orderState(api.db, order.id);
    const credits = Number((await sql<{ c: number }>`select coalesce(sum(delta), 0)::int as c from credit_ledger where user_id = ${userId}`.execute(api.db)).rows[0]?.c ?? 0);
    // 497 of 995 refunded: floor(10 × 497 / 995) = 4 of the 10 credits taken back.
    expect({ status: inReview.status, amountRefundedInReview: Number(inReview.amount_refunded), amountRefunded: Number(after.order.amount_refunded), credits })
      .toEqual({ status: 'needs_review', amountRefundedInReview: 497, amountRefunded: 497, credits: 6 });
  });

  it('a paid order whose invoice never came is still counted as missing its invoice after a partial refund or a dispute', async () => {
    const partly = await seedOrder(api.db, { userId: `u_inv_partial_${kind}` });
    const disputed = await seedOrder(api.db, { userId: `u_inv_dispute_${kind}` });
    const a = payment(partly.id);
    const b = payment(disputed.id);
    const control = await seedOrder(api.db, { userId: `u_inv_control_${kind}` });
    await deliver(payment(control.id).succeeded(t0));
    // Paid over an hour ago (INVOICE_MISSING_AFTER_MIN = 60); no invoice.* event ever arrived for either.
    await deliver(a.succeeded(t0), b.succeeded(t0), a.chargeRefunded(t0 + 100, 100),
      event('charge.dispute.created', t0 + 100, { id: id('du'), object: 'dispute', amount: 995, currency: 'usd', created: t0 + 100, payment_intent: b.pi, charge: b.ch, status: 'needs_response', reason: 'fraudulent' }, ''));
    const listed = (await admin.admin.orders.list.query({ missingInvoice: true, limit: 100 })).items.map((o) => o.orderId);
    expect({ control: listed.includes(control.id), partlyRefunded: listed.includes(partly.id), disputed: listed.includes(disputed.id) })
      .toEqual({ control: true, partlyRefunded: true, disputed: true });
  });
});

/** A credits pack bought at 10 credits; the catalogue now sells the same product as 20 credits. */
describe.each(TEST_BACKENDS)('the catalogue changes after a purchase, on %s', (kind) => {
  let api: TestApi;
  const t0 = Math.floor(Date.now() / 1000) - 5000;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'settle-catalogue-'));
    const file = join(dir, 'products.json');
    writeFileSync(file, JSON.stringify([
      { id: 'credits10', name: 'Credits pack', mode: 'payment', stripePriceId: null, amount: 995, currency: 'usd', grant: { credits: 20 }, partialRefund: 'proportional' },
    ]));
    api = await startApi(kind, { PRODUCTS_FILE: file });
  });
  afterAll(async () => {
    await api?.close();
  });

  const balance = async (userId: string) =>
    Number((await sql<{ c: number }>`select coalesce(sum(delta), 0)::int as c from credit_ledger where user_id = ${userId}`.execute(api.db)).rows[0]?.c ?? 0);

  /** An order sold as its checkout stored it (`grant_spec`), under a catalogue that has changed since. */
  const soldAs = async (userId: string, productId: string, grant: object) => {
    const order = await seedOrder(api.db, { userId, productId });
    await sql`update orders set grant_spec = ${JSON.stringify(grant)}::jsonb where id = ${order.id}`.execute(api.db);
    return order;
  };

  it('a refund of a pack bought as 10 credits takes back its share of those 10, not of the 20 the catalogue sells now', async () => {
    const userId = `u_catalogue_${kind}`;
    const order = await soldAs(userId, 'credits10', { kind: 'credits', credits: 10, partialRefund: 'proportional' });
    const p = payment(order.id);
    expect((await send(api, p.succeeded(t0))).status).toBe(200);
    await waitForInbox(api.db);
    expect(await balance(userId), 'granted what was sold').toBe(10);
    expect((await send(api, p.chargeRefunded(t0 + 100, 497))).status).toBe(200);
    await waitForInbox(api.db);
    expect((await orderState(api.db, order.id)).order.status).toBe('partially_refunded');
    // floor(10 × 497 / 995) = 4 taken back (by today's catalogue it would be 9 of 20, capped to 10).
    expect(await balance(userId), 'credits left after a half refund of a 10-credit purchase').toBe(6);
  });

  it('a product retired from the catalogue still has its refunds applied, by what it was sold with (not dead-lettered)', async () => {
    const userId = `u_retired_${kind}`;
    const order = await soldAs(userId, 'pack_retired', { kind: 'credits', credits: 8, partialRefund: 'none' });
    const p = payment(order.id);
    await send(api, p.succeeded(t0));
    await waitForInbox(api.db);
    expect(await balance(userId)).toBe(8);
    await send(api, p.chargeRefunded(t0 + 100, 300));
    await send(api, p.chargeRefunded(t0 + 200, 995));
    await waitForInbox(api.db);
    const { order: after } = await orderState(api.db, order.id);
    expect({ status: after.status, credits: await balance(userId) }).toEqual({ status: 'refunded', credits: 0 });
    const dead = await sql<{ n: number }>`select count(*)::int as n from stripe_events where state = 'dead'`.execute(api.db);
    expect(dead.rows[0]?.n).toBe(0);
  });
});
