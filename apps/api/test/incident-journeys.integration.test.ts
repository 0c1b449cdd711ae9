import { TEST_BACKENDS } from '@settle/db/testing';
import type { StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, checkoutAs, orderState, startApiWithSimulator, type TestApi, trpcClient, waitForInbox } from './harness.js';

/** The simulator's own incident journeys (Stripe's shapes and interleavings) through Settle, end to end. */
describe.each(TEST_BACKENDS)('incident journeys from the simulator on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  let operator: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind, { UNMATCHED_MAX_ATTEMPTS: '1' }));
    operator = await adminClient(api, `ops-${kind}`, 'operator');
  });
  afterAll(async () => {
    await close?.();
  });

  const checkout = (userId: string) => checkoutAs(api, userId);
  const credits = async (userId: string) =>
    Number((await api.db.selectFrom('entitlements').select('credits').where('user_id', '=', userId).executeTakeFirstOrThrow()).credits);
  const settlements = async (ids: string[]) =>
    (await api.db.selectFrom('stripe_events').select(['type', 'state', 'outcome', 'attempts']).where('id', 'in', ids).execute());

  it('refund_failed: the order ends paid with its credits, the refund recorded as failed', async () => {
    const userId = `user_refund_failed_${kind}`;
    const { client, orderId, checkoutSessionId } = await checkout(userId);
    await simulator.runJourney('refund_failed', checkoutSessionId, { shuffle: true, seed: 7, duplicates: 0.3 });
    await waitForInbox(api.db);
    const order = await client.orders.get.query({ orderId });
    expect(order).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
    expect(await credits(userId)).toBe(10);
    const detail = await operator.admin.orders.get.query({ orderId });
    expect(detail.refunds).toEqual([expect.objectContaining({ status: 'failed', failureReason: 'expired_or_canceled_card', undoneAt: expect.any(String) })]);
  });

  it('duplicate_payment: recorded beside the order, which stays as it is; refundable by its PaymentIntent', async () => {
    const userId = `user_duplicate_${kind}`;
    const { orderId, checkoutSessionId } = await checkout(userId);
    await simulator.runJourney('duplicate_payment', checkoutSessionId);
    await waitForInbox(api.db);
    const detail = await operator.admin.orders.get.query({ orderId });
    expect(detail.order.status).toBe('succeeded');
    expect(detail.grants).toHaveLength(1);
    expect(detail.duplicatePayments).toHaveLength(1);
    const [duplicate] = detail.duplicatePayments;
    expect(duplicate!.paymentIntentId).not.toBe(detail.order.paymentIntentId);
    await operator.admin.orders.refund.mutate({ orderId, paymentIntentId: duplicate!.paymentIntentId, reason: 'charged twice' });
    await new Promise((r) => setTimeout(r, 300));
    await waitForInbox(api.db);
    const after = await operator.admin.orders.get.query({ orderId });
    expect(after.order).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
    expect(after.duplicatePayments[0]!.amountRefunded).toBe(duplicate!.amount);
    expect(await credits(userId)).toBe(10);
  });

  it('duplicate_payment delivered in any order: paid once by whichever PaymentIntent succeeded first, the other recorded as the duplicate, never parked', async () => {
    for (const seed of [1, 2, 5, 6, 8, 15]) {
      const userId = `user_duplicate_shuffled_${seed}_${kind}`;
      const { orderId, checkoutSessionId } = await checkout(userId);
      await simulator.runJourney('duplicate_payment', checkoutSessionId, { shuffle: true, seed });
      await waitForInbox(api.db);
      const detail = await operator.admin.orders.get.query({ orderId });
      expect({ seed, status: detail.order.status, duplicates: detail.duplicatePayments.length, grants: detail.grants.length }).toEqual({ seed, status: 'succeeded', duplicates: 1, grants: 1 });
      expect(detail.duplicatePayments[0]!.paymentIntentId).not.toBe(detail.order.paymentIntentId);
      expect(await credits(userId)).toBe(10);
    }
  });

  it('foreign_objects: every event about objects Settle never created is settled at once, never retried or unmatched', async () => {
    const run = await simulator.runJourney('foreign_objects', null);
    await waitForInbox(api.db);
    const rows = await settlements(run.events.map((e) => e.id));
    expect(rows).toHaveLength(run.events.length);
    for (const r of rows) {
      // Event types Settle reads are ignored after one attempt; the others are recorded as not
      // supported as they are stored, with no attempt.
      expect(r.state === 'ignored' ? r.outcome : `${r.state}:${r.outcome}`, r.type).toBe(r.state === 'ignored' ? 'not_settle' : 'processed:unsupported');
      expect(r.attempts, r.type).toBe(r.state === 'ignored' ? 1 : 0);
    }
    expect(rows.filter((r) => r.state === 'ignored').map((r) => r.type).sort()).toEqual(
      expect.arrayContaining(['checkout.session.completed', 'customer.subscription.created', 'invoice.paid', 'charge.refunded', 'charge.dispute.created']),
    );
  });

  it('thin and snapshot deliveries of one journey (a migration): paid once', async () => {
    const userId = `user_both_${kind}`;
    const { orderId, checkoutSessionId } = await checkout(userId);
    await simulator.runJourney('card_success', checkoutSessionId, { format: 'both', shuffle: true, seed: 3 });
    await waitForInbox(api.db);
    const { order, grants, transitions } = await orderState(api.db, orderId);
    expect(order.status).toBe('succeeded');
    expect(grants).toHaveLength(1);
    expect(transitions.filter((t) => t.to_status === 'succeeded')).toHaveLength(1);
    const thin = await api.db.selectFrom('stripe_events').select(['type', 'state']).where('type', 'like', 'v1.%').execute();
    expect(thin.length).toBeGreaterThan(0);
    expect(new Set(thin.map((t) => t.state))).toEqual(new Set(['processed']));
  });

  it('dropped deliveries come back with recovery', async () => {
    const { client, orderId, checkoutSessionId } = await checkout(`user_dropped_${kind}`);
    await simulator.runJourney('card_success', checkoutSessionId, { drop: ['payment_intent.succeeded', 'checkout.session.completed'] });
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).not.toBe('succeeded');
    const r = await operator.admin.events.recover.mutate({ reason: 'deliveries dropped' });
    expect(r.stored).toBeGreaterThanOrEqual(2);
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
  });
});
