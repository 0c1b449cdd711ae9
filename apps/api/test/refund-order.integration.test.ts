import { randomUUID } from 'node:crypto';
import { TEST_BACKENDS } from '@settle/db/testing';
import { journeyEvents, type StripeEvent } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderState, seedOrder, send, startApi, type TestApi, waitForInbox } from './harness.js';

const now = () => Math.floor(Date.now() / 1000);
type Obj = Record<string, unknown>;

/** A signed-event-shaped copy of `base` with another type, object and time. */
function derived(base: StripeEvent, type: string, object: Obj, created: number): StripeEvent {
  return { ...base, id: `evt_${randomUUID().replaceAll('-', '')}`, type, created, data: { object } } as StripeEvent;
}

describe.each(TEST_BACKENDS)('refunds delivered out of order on %s', (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind, { UNMATCHED_MAX_ATTEMPTS: '1' });
  });
  afterAll(async () => {
    await api?.close();
  });

  async function paidOrder(journey: 'card_success' | 'full_refund' | 'partial_refund' = 'card_success', startAt = now() - 86_400 * 5) {
    const order = await seedOrder(api.db);
    const events = journeyEvents(journey, { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt });
    for (const e of events) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    return { order, events };
  }
  const credits = async (userId: string) =>
    Number((await api.db.selectFrom('entitlements').select('credits').where('user_id', '=', userId).executeTakeFirstOrThrow()).credits);

  it('a full refund fails, the merchant refunds again; the new refund\'s events arrive before the failure\'s: refunded, not parked', async () => {
    const { order, events } = await paidOrder('full_refund');
    expect((await orderState(api.db, order.id)).order.status).toBe('refunded');
    const created = events.find((e) => e.type === 'refund.created')!;
    const chargeRefunded = events.find((e) => e.type === 'charge.refunded')!;
    const r1 = created.data.object as Obj;
    const failedAt = created.created + 86_400;
    const failed = derived(created, 'refund.failed', { ...r1, status: 'failed', failure_reason: 'expired_or_canceled_card' }, failedAt);
    // Stripe put the 995 back on the charge when r1 failed; the merchant then refunds again (r2).
    const r2 = { ...r1, id: `re_again_${order.id.slice(0, 8)}`, created: failedAt + 600, status: 'succeeded' };
    const r2Created = derived(created, 'refund.created', r2, failedAt + 600);
    const r2ChargeRefunded = derived(chargeRefunded, 'charge.refunded', { ...(chargeRefunded.data.object as Obj), amount_refunded: 995, refunded: true }, failedAt + 600);

    // Stripe does not deliver in order: r2's events first (the failure's delivery was retried later).
    for (const e of [r2Created, r2ChargeRefunded, failed]) {
      expect((await send(api, e)).status).toBe(200);
      await waitForInbox(api.db);
    }
    const after = await orderState(api.db, order.id);
    // Stripe's truth: 995 refunded (r2), r1 failed. Never more than was paid.
    expect({ status: after.order.status, amountRefunded: Number(after.order.amount_refunded), review: after.order.review_reason })
      .toEqual({ status: 'refunded', amountRefunded: 995, review: null });
    expect(await credits(order.user_id)).toBe(0);
  });
});
