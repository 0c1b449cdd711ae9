import { randomUUID } from 'node:crypto';
import { TEST_BACKENDS } from '@settle/db/testing';
import type { StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, checkoutAs, startApiWithSimulator, type TestApi, trpcClient, waitForInbox } from './harness.js';

/** Money going back through the console (admin.orders.refund / reconcile) and Stripe's simulator. */
describe.each(TEST_BACKENDS)('refunds that failed: asked again, reconciled, and of duplicate payments, on %s', (kind) => {
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

  const credits = async (userId: string) =>
    Number((await api.db.selectFrom('entitlements').select('credits').where('user_id', '=', userId).executeTakeFirstOrThrow()).credits);
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 300));
    await waitForInbox(api.db);
  };

  it('a refund that failed can be issued again by the API (no requestId): Stripe is asked for a new refund', async () => {
    const userId = `user_rerefund_${kind}`;
    const { client, orderId, checkoutSessionId } = await checkoutAs(api, userId);
    await simulator.runJourney('card_success', checkoutSessionId);
    await settle();
    const first = await operator.admin.orders.refund.mutate({ orderId, reason: 'customer asked (ticket 1)' });
    await settle();
    expect(await client.orders.get.query({ orderId })).toMatchObject({ status: 'refunded', amountRefunded: 995 });

    // The customer's card was closed: Stripe fails the refund and puts the money back on the charge.
    simulator.failRefund(first.refundId);
    await settle();
    expect(await client.orders.get.query({ orderId })).toMatchObject({ status: 'succeeded', amountRefunded: 0 });

    // The operator refunds again (e.g. to another card via Stripe): this is a new refund.
    const second = await operator.admin.orders.refund.mutate({ orderId, reason: 'refund again after the failed one (ticket 1)' });
    await settle();
    const chargeId = simulator.state.refunds.get(first.refundId)!.charge;
    const stripeRefunds = [...simulator.state.refunds.values()].filter((r) => r.charge === chargeId);
    expect(second.refundId, 'the second refund request returned the failed refund').not.toBe(first.refundId);
    expect(stripeRefunds).toHaveLength(2);
    expect(await client.orders.get.query({ orderId })).toMatchObject({ status: 'refunded', amountRefunded: 995 });
    expect(await credits(userId)).toBe(0);
  });

  it('reconcile after a refund failure Settle never heard of: the order is paid again and its credits come back', async () => {
    const userId = `user_reconcile_failed_${kind}`;
    const { client, orderId, checkoutSessionId } = await checkoutAs(api, userId);
    await simulator.runJourney('card_success', checkoutSessionId);
    await settle();
    const refund = await operator.admin.orders.refund.mutate({ orderId, reason: 'customer asked (ticket 2)', requestId: randomUUID() });
    await settle();
    expect(await client.orders.get.query({ orderId })).toMatchObject({ status: 'refunded', amountRefunded: 995 });
    expect(await credits(userId)).toBe(0);

    // The refund fails at Stripe while Settle's endpoint is not reachable: its events are never delivered.
    simulator.configureWebhook(null);
    simulator.failRefund(refund.refundId);
    await new Promise((r) => setTimeout(r, 200));
    simulator.configureWebhook({ url: `${api.url}/webhooks/stripe`, secret: 'whsec_test_settle_secret' });
    const charge = simulator.state.charges.get(String(simulator.state.refunds.get(refund.refundId)!.charge))!;
    expect(charge.amount_refunded).toBe(0);

    // "Reconcile now: it asks Stripe for the truth and applies what Settle missed".
    await operator.admin.orders.reconcile.mutate({ orderId, reason: 'ticket 2: Stripe says the refund failed' });
    await settle();
    const after = await client.orders.get.query({ orderId });
    expect({ status: after.status, amountRefunded: after.amountRefunded }).toEqual({ status: 'succeeded', amountRefunded: 0 });
    expect(await credits(userId)).toBe(10);
  });

  it('the duplicate is owed to the customer again: not shown as refunded, listed as an incident, refundable again', async () => {
    const userId = `user_dup_refund_failed_${kind}`;
    const { orderId, checkoutSessionId } = await checkoutAs(api, userId);
    await simulator.runJourney('duplicate_payment', checkoutSessionId);
    await settle();
    const [duplicate] = (await operator.admin.orders.get.query({ orderId })).duplicatePayments;
    const refund = await operator.admin.orders.refund.mutate({ orderId, paymentIntentId: duplicate!.paymentIntentId, reason: 'charged twice', requestId: randomUUID() });
    await settle();
    expect((await operator.admin.orders.get.query({ orderId })).duplicatePayments[0]!.amountRefunded).toBe(duplicate!.amount);

    // The refund of the second charge fails: the customer is still charged twice.
    simulator.failRefund(refund.refundId);
    await settle();
    const detail = await operator.admin.orders.get.query({ orderId });
    expect(detail.refunds.find((r) => r.refundId === refund.refundId)).toMatchObject({ status: 'failed' });
    expect(detail.duplicatePayments[0]!.amountRefunded, 'duplicate payment still counts the failed refund').toBe(0);
    expect((await operator.admin.orders.list.query({ incident: 'duplicate_payment' })).items.map((o) => o.orderId)).toContain(orderId);
    await expect(operator.admin.orders.refund.mutate({ orderId, paymentIntentId: duplicate!.paymentIntentId, reason: 'refund the duplicate again', requestId: randomUUID() }))
      .resolves.toMatchObject({ amount: duplicate!.amount });
  });
});
