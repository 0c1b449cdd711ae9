import { createAdminToken } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderState, startApi, trpcClient, waitForInbox, type TestApi } from './harness.js';
import { newOrder, runJourney, waitForFlag } from './rollout-helpers.js';

describe.each(TEST_BACKENDS)('shadow mode on %s', (kind) => {
  let api: TestApi;
  let owner: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    api = await startApi(kind, { UNLEASH_REFRESH_MS: '200', HANDLER_MODE: 'new' });
    owner = trpcClient(api.url, (await createAdminToken(api.db, { name: 'release-owner', role: 'owner', createdBy: 'test' })).token);
    await owner.admin.flags.set.mutate({ mode: 'shadow', rolloutPercent: 100, reason: 'watch the new handler first' });
    await waitForFlag(owner, { mode: 'shadow', rolloutPercent: 100 });
  });
  afterAll(async () => {
    await api?.close();
  });

  const disagreements = (orderId: string) =>
    api.db.selectFrom('shadow_disagreements').selectAll().where('order_id', '=', orderId).orderBy('id').execute();

  it('creates orders on legacy with the new handler’s own copy beside them', async () => {
    const created = await newOrder(api, `shadow_user_${kind}_0`);
    expect(created).toMatchObject({ handler: 'legacy', shadow: true });
    const { order } = await orderState(api.db, created.orderId);
    expect(order.handler).toBe('legacy');
    expect(order.shadow_state).toMatchObject({ id: created.orderId, handler: 'new', status: 'pending', amount: 995, currency: 'usd' });
  });

  it('records where legacy confirms an unpaid async session, and legacy stays authoritative', async () => {
    const { orderId } = await newOrder(api, `shadow_user_${kind}_1`);
    const events = await runJourney(api, 'async_success', orderId);
    const end = await orderState(api.db, orderId);
    expect([end.order.status, end.grants.length]).toEqual(['succeeded', 1]);
    expect(end.order.shadow_state).toMatchObject({ status: 'succeeded', handler: 'new' });
    const completed = events.find((e) => e.type === 'checkout.session.completed')!;
    expect(await disagreements(orderId)).toEqual([
      expect.objectContaining({
        event_id: completed.id,
        kind: 'legacy_confirms_unpaid_session',
        legacy_status: 'succeeded',
        new_status: 'processing',
        legacy_outcome: 'applied',
      }),
    ]);

    // A replay of the event records nothing twice.
    await owner.admin.events.replay.mutate({ eventId: completed.id, reason: 'check replays in shadow mode' });
    await waitForInbox(api.db);
    expect(await disagreements(orderId)).toHaveLength(1);
    expect((await orderState(api.db, orderId)).grants).toHaveLength(1);
  });

  it('records both disagreements of an async payment that fails', async () => {
    const { orderId } = await newOrder(api, `shadow_user_${kind}_2`);
    await runJourney(api, 'async_failure', orderId);
    const end = await orderState(api.db, orderId);
    expect([end.order.status, end.grants.length]).toEqual(['succeeded', 1]);
    expect(end.order.shadow_state).toMatchObject({ status: 'failed' });
    expect((await disagreements(orderId)).map((d) => [d.kind, d.legacy_status, d.new_status])).toEqual([
      ['legacy_confirms_unpaid_session', 'succeeded', 'processing'],
      ['legacy_paid_new_failed', 'succeeded', 'failed'],
    ]);
  });

  it('records nothing over a card journey, where both handlers agree', async () => {
    const { orderId } = await newOrder(api, `shadow_user_${kind}_3`);
    await runJourney(api, 'card_success', orderId);
    const end = await orderState(api.db, orderId);
    expect([end.order.status, end.grants.length]).toEqual(['succeeded', 1]);
    expect(end.order.shadow_state).toMatchObject({ status: 'succeeded' });
    expect(await disagreements(orderId)).toEqual([]);
  });

  it('a report since a time counts one cohort: the orders created since then and their disagreements, whenever these were recorded', async () => {
    const before = await newOrder(api, `shadow_user_${kind}_cohort_old`);
    await new Promise((r) => setTimeout(r, 20));
    const since = new Date().toISOString();
    // The older order's disagreement is recorded after `since`: it belongs to the older cohort.
    await runJourney(api, 'async_success', before.orderId);
    const after = await newOrder(api, `shadow_user_${kind}_cohort_new`);
    await runJourney(api, 'async_success', after.orderId);
    const report = await owner.admin.rollout.report.query({ since, examplesPerKind: 5 });
    expect(report.handlers.find((h) => h.handler === 'legacy')).toMatchObject({ orders: 1, shadowed: 1 });
    expect(report.shadow).toMatchObject({ orders: 1, disagreements: 1 });
    expect(report.shadow.byKind.map((k) => [k.kind, k.count, k.orders, k.examples.map((e) => e.orderId)])).toEqual([
      ['legacy_confirms_unpaid_session', 1, 1, [after.orderId]],
    ]);
  });

  it('reports orders and outcomes per handler and the disagreements by kind', async () => {
    await owner.admin.flags.set.mutate({ mode: 'new', rolloutPercent: 100, reason: 'shadow looked right' });
    await waitForFlag(owner, { mode: 'new', rolloutPercent: 100 });
    const { orderId, handler, shadow } = await newOrder(api, `shadow_user_${kind}_4`);
    expect([handler, shadow]).toEqual(['new', false]);
    expect((await orderState(api.db, orderId)).order.shadow_state).toBeNull();
    await runJourney(api, 'card_success', orderId);

    const viewer = trpcClient(api.url, (await createAdminToken(api.db, { name: 'report-reader', role: 'viewer', createdBy: 'test' })).token);
    const report = await viewer.admin.rollout.report.query();
    expect(report.handlers).toEqual([
      { handler: 'legacy', orders: 6, shadowed: 6, byStatus: { pending: 1, succeeded: 5 } },
      { handler: 'new', orders: 1, shadowed: 0, byStatus: { succeeded: 1 } },
    ]);
    expect(report.shadow).toMatchObject({ orders: 6, disagreements: 5 });
    expect(report.shadow.byKind.map((k) => [k.kind, k.description, k.count, k.orders])).toEqual([
      ['legacy_confirms_unpaid_session', 'legacy would confirm an unpaid async session', 4, 4],
      ['legacy_paid_new_failed', 'legacy counts as paid a payment the new handler sees fail or be canceled', 1, 1],
    ]);
    expect(report.shadow.byKind[0]?.examples).toHaveLength(4);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/settle_shadow_disagreements_total\{kind="legacy_confirms_unpaid_session"\} 4/);
    // The rollout compared in Prometheus: grants and transitions by the handler the order is under.
    expect(metrics).toMatch(/^settle_grants_total\{action="grant",handler="legacy"\} 5$/m);
    expect(metrics).toMatch(/^settle_grants_total\{action="grant",handler="new"\} 1$/m);
    expect(metrics).toMatch(/^settle_order_transitions_total\{from="pending",to="succeeded",cause="stripe_event",handler="new"\} 1$/m);
  });
});
