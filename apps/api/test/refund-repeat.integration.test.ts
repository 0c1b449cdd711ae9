/**
 * `admin.orders.refund` without a `requestId` "treats a repeat of the same amount as
 * the same refund, unless that refund has failed since" (README, the console guide). A repeat is
 * what an automation sends when the first answer was lost (a timeout, a dropped connection).
 */
import { TEST_BACKENDS } from '@settle/db/testing';
import type { StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, checkoutAs, startApiWithSimulator, type TestApi, trpcClient, waitForInbox } from './harness.js';

describe.each(TEST_BACKENDS)('a repeated API refund without requestId on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  let operator: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind, { UNMATCHED_MAX_ATTEMPTS: '1' }));
    operator = await adminClient(api, `ops-repeat-${kind}`, 'operator');
  });
  afterAll(async () => {
    await close?.();
  });
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 300));
    await waitForInbox(api.db);
  };

  it('a repeat of the same partial refund, sent after Stripe\'s webhook arrived, refunds once', async () => {
    const { client, orderId, checkoutSessionId } = await checkoutAs(api, `user_repeat_${kind}`);
    await simulator.runJourney('card_success', checkoutSessionId);
    await settle();

    const first = await operator.admin.orders.refund.mutate({ orderId, amount: 300, reason: 'goodwill 3.00 (ticket 9)' });
    await settle(); // Stripe's charge.refunded arrives within a second or so
    // The automation did not see the first answer and sends the same request again.
    const repeat = await operator.admin.orders.refund.mutate({ orderId, amount: 300, reason: 'goodwill 3.00 (ticket 9)' });
    await settle();

    const chargeId = simulator.state.refunds.get(first.refundId)!.charge;
    const atStripe = [...simulator.state.refunds.values()].filter((r) => r.charge === chargeId);
    expect({ sameRefund: repeat.refundId === first.refundId, refundsAtStripe: atStripe.length, amountRefunded: (await client.orders.get.query({ orderId })).amountRefunded })
      .toEqual({ sameRefund: true, refundsAtStripe: 1, amountRefunded: 300 });
  });
});
