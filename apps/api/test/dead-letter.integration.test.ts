import { createAdminToken } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { journeyEvents } from '@settle/stripe-simulator';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderState, seedOrder, send, startApi, trpcClient, waitForInbox, type TestApi } from './harness.js';

describe.each(TEST_BACKENDS)('dead letters and replay on %s', (kind) => {
  let api: TestApi;
  let faulty = true;
  let operator: string;
  let viewer: string;
  beforeAll(async () => {
    api = await startApi(kind, { RETRY_MAX_ATTEMPTS: '3', RETRY_BASE_MS: '10', RETRY_MAX_MS: '20' }, {
      // The test seam: a handler fault on every payment_intent.succeeded while `faulty`.
      beforeApply: (event) => {
        if (faulty && event.type === 'payment_intent.succeeded') throw new Error('injected handler fault');
      },
    });
    operator = (await createAdminToken(api.db, { name: 'ops', role: 'operator', createdBy: 'test' })).token;
    viewer = (await createAdminToken(api.db, { name: 'look', role: 'viewer', createdBy: 'test' })).token;
  });
  afterAll(async () => {
    await api?.close();
  });

  it('retries a failing event, ends it dead with every error, and replays it once after the fault is gone', async () => {
    const order = await seedOrder(api.db);
    const ev = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) })
      .find((e) => e.type === 'payment_intent.succeeded')!;
    expect((await send(api, ev)).status).toBe(200);
    await waitForInbox(api.db);

    const dead = await api.db.selectFrom('stripe_events').selectAll().where('id', '=', ev.id).executeTakeFirstOrThrow();
    expect(dead.state).toBe('dead');
    expect(dead.attempts).toBe(3);
    expect(dead.errors).toHaveLength(3);
    expect(dead.errors.every((e) => /injected handler fault/.test(e.error))).toBe(true);
    expect(dead.last_error).toMatch(/injected handler fault/);
    expect((await orderState(api.db, order.id)).order.status).toBe('pending');

    const admin = trpcClient(api.url, operator);
    const listed = await admin.admin.events.list.query({ state: 'dead' });
    expect(listed.items.map((i) => i.eventId)).toContain(ev.id);

    // A viewer may look but not replay; a replay needs a reason.
    await expect(trpcClient(api.url, viewer).admin.events.replay.mutate({ eventId: ev.id, reason: 'fixed' })).rejects.toMatchObject({
      data: { code: 'FORBIDDEN' },
    });
    const noReason = await admin.admin.events.replay.mutate({ eventId: ev.id, reason: '' }).catch((e: unknown) => e);
    expect(noReason).toBeInstanceOf(TRPCClientError);
    expect((noReason as TRPCClientError<never>).data).toMatchObject({ code: 'BAD_REQUEST' });
    await expect(trpcClient(api.url).admin.events.list.query({})).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });

    faulty = false;
    const counts = await admin.admin.events.replay.mutate({ eventId: ev.id, reason: 'handler fixed in 1.2.3' });
    expect(counts).toMatchObject({ requested: 1, requeued: 1 });
    await waitForInbox(api.db);
    const state = await orderState(api.db, order.id);
    expect(state.order.status).toBe('succeeded');
    expect(state.grants).toHaveLength(1);

    // Replaying a processed event is harmless.
    await admin.admin.events.replay.mutate({ eventId: ev.id, reason: 'double check' });
    await waitForInbox(api.db);
    expect((await orderState(api.db, order.id)).grants).toHaveLength(1);

    const audit = await api.db.selectFrom('admin_audit').selectAll().where('target', '=', `event:${ev.id}`).orderBy('id').execute();
    expect(audit.map((a) => [a.actor, a.action, a.reason])).toEqual([
      ['token:ops', 'events.replay', 'handler fixed in 1.2.3'],
      ['token:ops', 'events.replay', 'double check'],
    ]);
  });

  it('replays every dead event since a time in one audited action', async () => {
    faulty = true;
    const since = new Date(Date.now() - 1000).toISOString();
    const orders = await Promise.all([seedOrder(api.db), seedOrder(api.db), seedOrder(api.db)]);
    for (const order of orders) {
      const ev = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) })
        .find((e) => e.type === 'payment_intent.succeeded')!;
      await send(api, ev);
    }
    await waitForInbox(api.db);
    faulty = false;
    const counts = await trpcClient(api.url, operator).admin.events.replay.mutate({ deadSince: since, reason: 'bulk after fix' });
    expect(counts.requeued).toBe(3);
    await waitForInbox(api.db);
    for (const order of orders) expect((await orderState(api.db, order.id)).order.status).toBe('succeeded');
    const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'events.replay_dead').executeTakeFirstOrThrow();
    expect(audit.details).toMatchObject({ count: 3 });
  });
});
