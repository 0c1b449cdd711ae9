import { TEST_BACKENDS } from '@settle/db/testing';
import type { StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, checkoutAs, orderState, startApiWithSimulator, type TestApi, trpcClient, waitForInbox } from './harness.js';

/**
 * Events Settle never received (an outage longer than Stripe's retries, a misconfigured endpoint)
 * come back from Stripe's Events API: the simulator records a journey's events without delivering
 * them, as Stripe would after giving up.
 */
describe.each(TEST_BACKENDS)('recovering missed events from Stripe on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  let operator: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind));
    operator = await adminClient(api, `ops-${kind}`, 'operator');
  });
  afterAll(async () => {
    await close?.();
  });

  const checkout = (userId: string) => checkoutAs(api, userId);

  it('a payment whose events were never delivered is paid once recovery stores them; a second run stores nothing', async () => {
    // A first journey is delivered, so the inbox has a newest event to start the window from.
    const delivered = await checkout(`user_delivered_${kind}`);
    await simulator.runJourney('card_success', delivered.checkoutSessionId);
    await waitForInbox(api.db);

    const { client, orderId, checkoutSessionId } = await checkout(`user_lost_${kind}`);
    const lost = await simulator.runJourney('card_success', checkoutSessionId, { deliver: false });
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('pending');

    const first = await operator.admin.events.recover.mutate({ reason: 'endpoint was down for 4 days (INC-12)' });
    expect(first.stored).toBe(lost.events.length);
    expect(first.listed).toBe(first.stored + first.alreadyKnown);
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
    const { grants } = await orderState(api.db, orderId);
    expect(grants).toHaveLength(1);

    const again = await operator.admin.events.recover.mutate({ reason: 'check nothing is left' });
    expect(again).toMatchObject({ stored: 0, alreadyKnown: again.listed });
    expect(again.listed).toBeGreaterThanOrEqual(lost.events.length);

    const progress = await operator.admin.events.recoveryProgress.query();
    expect(progress).toMatchObject({ running: false, phase: 'done', stored: 0, error: null });
    const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'events.recover').orderBy('id').execute();
    expect(audit.map((a) => a.reason)).toEqual(['endpoint was down for 4 days (INC-12)', 'check nothing is left']);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(Number(metrics.match(/^settle_events_recovered_total\{trigger="admin"\} (\d+)/m)?.[1])).toBe(lost.events.length);
  });

  it('`since` reaches back to events older than the newest stored one', async () => {
    const { client, orderId, checkoutSessionId } = await checkout(`user_since_${kind}`);
    const startAt = Math.floor(Date.now() / 1000) - 3 * 86_400;
    await simulator.runJourney('card_success', checkoutSessionId, { deliver: false, startAt });
    const result = await operator.admin.events.recover.mutate({ reason: 'three-day outage', since: new Date((startAt - 60) * 1000).toISOString() });
    expect(result.stored).toBeGreaterThan(0);
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
  });

  it('needs the operator role and a reason', async () => {
    const viewer = await adminClient(api, `viewer-${kind}`, 'viewer');
    await expect(viewer.admin.events.recover.mutate({ reason: 'not allowed' })).rejects.toMatchObject({ data: { code: 'FORBIDDEN' } });
    await expect(operator.admin.events.recover.mutate({ reason: '' })).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
  });
});
