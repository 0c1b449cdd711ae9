import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminToken } from '@settle/db';
import { sql } from 'kysely';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '@settle/db/testing';
import type { StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newHostWebhookSecret, startHostReceiver, type HostReceiver } from './host-receiver.js';
import { DEMO_PRODUCTS } from '../src/payments/product-catalogue.js';
import { checkoutAs, grantCredits, startApi, startApiWithSimulator, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

const SECRET = newHostWebhookSecret();

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(TEST_BACKENDS)('webhooks to the host app on %s', (kind) => {
  describe('a host that hangs, then answers 500, then recovers', () => {
    let api: TestApi;
    let simulator: StripeSimulator;
    let host: HostReceiver;
    let close: () => Promise<void>;
    beforeAll(async () => {
      host = await startHostReceiver(SECRET);
      ({ api, simulator, close } = await startApiWithSimulator(kind, {
        HOST_WEBHOOK_URL: host.url,
        HOST_WEBHOOK_SECRET: SECRET,
        HOST_WEBHOOK_RETRY_DELAYS_MS: '0,100,200,400',
        HOST_WEBHOOK_MAX_ATTEMPTS: '100',
        HOST_WEBHOOK_TIMEOUT_MS: '300',
      }));
    });
    afterAll(async () => {
      await close?.();
      await host?.close();
    });

    it('receives every change once it recovers, in order per user, and payments never wait for it', async () => {
      host.mode = 'hang';
      const users = ['u_alice', 'u_bob'];
      const orders = new Map<string, string>();
      for (const userId of users) {
        const client = trpcClient(api.url, await userToken(userId));
        const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'credits10' });
        orders.set(userId, orderId);
        await simulator.runJourney('card_success', checkoutSessionId, { duplicates: 0.5, shuffle: true, seed: 7 });
        await waitForInbox(api.db);
        // Paid and granted while the host does not answer at all.
        expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
      }
      host.mode = 'fail';
      for (const userId of users) {
        const client = trpcClient(api.url, await userToken(userId));
        for (let i = 0; i < 4; i++) await client.entitlements.consume.mutate({ credits: 2, idempotencyKey: `spend-${i}`, reason: 'report' });
        expect((await client.entitlements.get.query()).credits).toBe(2);
      }
      await until(() => host.requests.filter((r) => r.status === 500).length >= 6, 'failed attempts');
      // Nothing got through, and nothing was lost.
      const all = await api.db.selectFrom('host_deliveries').select(['attempts', 'state']).execute();
      expect(all.filter((d) => d.state === 'pending')).toHaveLength(all.length);
      expect(all.length).toBeGreaterThanOrEqual(12);
      expect(Math.max(...all.map((p) => p.attempts))).toBeGreaterThanOrEqual(2);

      host.mode = 'ok';
      await until(async () => {
        const left = await api.db.selectFrom('host_deliveries').select('id').where('state', '!=', 'delivered').execute();
        return left.length === 0;
      }, 'every delivery');

      expect(host.badSignatures).toEqual([]);
      for (const userId of users) {
        // Every request the host saw for a user, failed or not, came in sequence order: the next
        // message waits until the host has taken the one before it.
        const seen = host.requests.filter((r) => r.body.data.userId === userId).map((r) => r.body.sequence);
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
        // Every message once, none missing: the user's sequence has no gap.
        const accepted = host.accepted(userId);
        expect(accepted.map((r) => r.body.sequence)).toEqual(accepted.map((_, i) => i + 1));
        const entitlements = accepted.filter((r) => r.body.type === 'entitlements.updated');
        expect(entitlements.map((r) => r.body.data.credits)).toEqual([10, 8, 6, 4, 2]);
        expect(entitlements.at(-1)!.body.data).toEqual({ userId, credits: 2, creditDebt: 0, plan: null, subscriptionStatus: null, planPeriodEnd: null });
        // The order's status changes, ending where orders.get ends (data: the order as orders.get shows it).
        const orderMessages = accepted.filter((r) => r.body.type === 'order.updated');
        expect(orderMessages.length).toBeGreaterThanOrEqual(1);
        const orderNow = await trpcClient(api.url, await userToken(userId)).orders.get.query({ orderId: orders.get(userId)! });
        const { invoice: _invoiceMayComeLater, ...orderFields } = orderNow;
        expect(orderMessages.at(-1)!.body.data).toMatchObject(orderFields);
        expect(orderNow.status).toBe('succeeded');
        // A retried message keeps its webhook-id, so a host can drop a repeat.
        const ids = host.requests.filter((r) => r.body.data.userId === userId && r.body.sequence === 1).map((r) => r.webhookId);
        expect(new Set(ids).size).toBe(1);
      }

      const metrics = await (await fetch(`${api.url}/metrics`)).text();
      expect(metrics).toMatch(/settle_host_webhook_deliveries_total\{outcome="delivered",type="entitlements.updated"\} 10/);
      // Each user's first message (the new order's `order.updated`) took the failures; the rest waited behind it.
      expect(metrics).toMatch(/settle_host_webhook_deliveries_total\{outcome="retry",type="order.updated"\} [1-9]/);
      expect(metrics).toMatch(/settle_host_webhook_deliveries_total\{outcome="delivered",type="order.updated"\} [1-9]/);
      expect(metrics).toMatch(/settle_host_webhook_lag_seconds 0/);
      expect(metrics).toMatch(/settle_host_webhook_pending 0/);
    });
  });

  describe('a host that stays down: dead deliveries, then replay', () => {
    let api: TestApi;
    let host: HostReceiver;
    let close: () => Promise<void>;
    beforeAll(async () => {
      host = await startHostReceiver(SECRET);
      ({ api, close } = await startApiWithSimulator(kind, {
        HOST_WEBHOOK_URL: host.url,
        HOST_WEBHOOK_SECRET: SECRET,
        HOST_WEBHOOK_RETRY_DELAYS_MS: '0,50',
        HOST_WEBHOOK_MAX_ATTEMPTS: '2',
      }));
    });
    afterAll(async () => {
      await close?.();
      await host?.close();
    });

    it('gives up after the last attempt, lists and shows the attempts, and an audited replay delivers them in order', async () => {
      host.mode = 'fail';
      const since = new Date(Date.now() - 1000).toISOString();
      const { token } = await createAdminToken(api.db, { name: `ops-${kind}`, role: 'operator', createdBy: 'test' });
      const admin = trpcClient(api.url, token);
      const client = trpcClient(api.url, await userToken('u_carol'));
      await grantCredits(api.db, 'u_carol', 5);
      await client.entitlements.consume.mutate({ credits: 1, idempotencyKey: 'a' });
      await client.entitlements.consume.mutate({ credits: 1, idempotencyKey: 'b' });

      await until(async () => (await admin.admin.deliveries.list.query({ state: 'dead' })).items.length === 3, 'three dead deliveries');
      const dead = await admin.admin.deliveries.list.query({ state: 'dead', userId: 'u_carol' });
      expect(dead.items.map((d) => d.sequence)).toEqual([3, 2, 1]);
      const detail = await admin.admin.deliveries.get.query({ deliveryId: dead.items[2]!.deliveryId });
      expect(detail).toMatchObject({ state: 'dead', attempts: 2, lastError: 'HTTP 500', payload: { type: 'entitlements.updated', sequence: 1 } });
      expect(detail.attemptLog.map((a) => [a.responseStatus, a.responseBody])).toEqual([
        [500, 'host is down'],
        [500, 'host is down'],
      ]);
      const status = await admin.admin.deliveries.status.query();
      expect(status).toMatchObject({ configured: true, pending: 0, dead: 3, maxAttempts: 2 });

      const viewer = trpcClient(api.url, (await createAdminToken(api.db, { name: `viewer-${kind}`, role: 'viewer', createdBy: 'test' })).token);
      await expect(viewer.admin.deliveries.replay.mutate({ deadSince: since, reason: 'host fixed' })).rejects.toThrow(/operator/);
      await expect(admin.admin.deliveries.replay.mutate({ deadSince: since, reason: '' })).rejects.toThrow(/reason/);

      host.mode = 'ok';
      const replay = await admin.admin.deliveries.replay.mutate({ deadSince: since, reason: 'host fixed (INC-42)' });
      expect(replay).toMatchObject({ requested: 3, requeued: 3 });
      await until(async () => (await admin.admin.deliveries.replayProgress.query({ replayedAt: replay.replayedAt })).delivered === 3, 'replay');
      expect(host.accepted('u_carol').map((r) => [r.body.sequence, r.body.data.credits])).toEqual([
        [1, 5],
        [2, 4],
        [3, 3],
      ]);
      const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'deliveries.replay_dead').execute();
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ reason: 'host fixed (INC-42)' });

      // Replaying one delivered message sends it again, same id: the host can drop it.
      const one = await admin.admin.deliveries.replay.mutate({ deliveryId: dead.items[0]!.deliveryId, reason: 'resend for the host team' });
      expect(one).toMatchObject({ requested: 1, requeued: 1 });
      await until(() => host.accepted('u_carol').length === 4, 'single replay');
      expect(host.accepted('u_carol').at(-1)!.webhookId).toBe(dead.items[0]!.deliveryId);
      await expect(admin.admin.deliveries.get.query({ deliveryId: '00000000-0000-4000-8000-000000000000' })).rejects.toThrow(/no delivery/);
    });
  });

  describe('a host back after an outage, with a message hours away from its next retry', () => {
    let api: TestApi;
    let host: HostReceiver;
    let close: () => Promise<void>;
    beforeAll(async () => {
      host = await startHostReceiver(SECRET);
      ({ api, close } = await startApiWithSimulator(kind, {
        HOST_WEBHOOK_URL: host.url,
        HOST_WEBHOOK_SECRET: SECRET,
        // After the first failure, the next attempt is an hour away.
        HOST_WEBHOOK_RETRY_DELAYS_MS: '0,3600000',
        HOST_WEBHOOK_MAX_ATTEMPTS: '10',
      }));
    });
    afterAll(async () => {
      await close?.();
      await host?.close();
    });

    it('replaying a pending delivery sends it (and the older ones of its user it waits behind) right away, keeping its attempts, audited', async () => {
      host.mode = 'fail';
      const { token } = await createAdminToken(api.db, { name: `ops-now-${kind}`, role: 'operator', createdBy: 'test' });
      const admin = trpcClient(api.url, token);
      const client = trpcClient(api.url, await userToken('u_dora'));
      await grantCredits(api.db, 'u_dora', 5);
      await client.entitlements.consume.mutate({ credits: 1, idempotencyKey: 'a' });
      await client.entitlements.consume.mutate({ credits: 1, idempotencyKey: 'b' });
      await until(() => host.requests.filter((r) => r.body.data.userId === 'u_dora').length === 1, 'the first attempt');
      const waiting = await admin.admin.deliveries.list.query({ state: 'pending', userId: 'u_dora' });
      expect(waiting.items.map((d) => [d.sequence, d.attempts])).toEqual([
        [3, 0],
        [2, 0],
        [1, 1],
      ]);
      const first = waiting.items[2]!;
      expect(new Date(first.nextAttemptAt!).getTime()).toBeGreaterThan(Date.now() + 3_000_000);

      host.mode = 'ok';
      // The user's latest message: it waits behind the first, which is what gets sent now.
      const replay = await admin.admin.deliveries.replay.mutate({ deliveryId: waiting.items[0]!.deliveryId, reason: 'host fixed, INC-51' });
      expect(replay).toMatchObject({ requested: 1, requeued: 0, alreadyPending: 1, dueNow: 1 });
      await until(() => host.accepted('u_dora').length === 3, 'the waiting messages', 5_000);
      expect(host.accepted('u_dora').map((r) => [r.body.sequence, r.body.data.credits])).toEqual([
        [1, 5],
        [2, 4],
        [3, 3],
      ]);
      expect(host.accepted('u_dora')[0]!.webhookId).toBe(first.deliveryId);
      // Its retry budget went on where it was: the failed attempt still counts.
      const sent = await admin.admin.deliveries.get.query({ deliveryId: first.deliveryId });
      expect(sent).toMatchObject({ state: 'delivered', attempts: 2 });
      const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'deliveries.replay').where('target', '=', `delivery:${waiting.items[0]!.deliveryId}`).execute();
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ reason: 'host fixed, INC-51', details: { previousState: 'pending', dueNow: [first.deliveryId] } });
    });
  });

  describe('every order status change, whichever door it comes through', () => {
    let api: TestApi;
    let simulator: StripeSimulator;
    let host: HostReceiver;
    let close: () => Promise<void>;
    beforeAll(async () => {
      host = await startHostReceiver(SECRET);
      // A product whose Stripe price was archived: Stripe refuses its Checkout Session.
      const file = join(tmpdir(), `settle-retired-catalogue-${process.pid}-${kind}.json`);
      writeFileSync(file, JSON.stringify([...DEMO_PRODUCTS, { ...DEMO_PRODUCTS[0]!, id: 'retired', name: 'Retired pack', stripePriceId: 'price_archived_2025' }]));
      ({ api, simulator, close } = await startApiWithSimulator(kind, {
        PRODUCTS_FILE: file,
        HOST_WEBHOOK_URL: host.url,
        HOST_WEBHOOK_SECRET: SECRET,
        HOST_WEBHOOK_RETRY_DELAYS_MS: '0,50',
      }));
    });
    afterAll(async () => {
      await close?.();
      await host?.close();
    });

    const statusesSent = (userId: string, orderId: string) =>
      host.accepted(userId).filter((r) => r.body.type === 'order.updated' && r.body.data.orderId === orderId).map((r) => r.body.data.status);

    it('a checkout Stripe refuses is canceled, and the host hears it', async () => {
      const userId = `u_refused_${kind}`;
      const client = trpcClient(api.url, await userToken(userId));
      await expect(client.checkout.create.mutate({ productId: 'retired' })).rejects.toThrow(/payment provider unavailable/);
      const order = await api.db.selectFrom('orders').select(['id', 'status']).where('user_id', '=', userId).executeTakeFirstOrThrow();
      expect(order.status).toBe('canceled');
      await until(() => statusesSent(userId, order.id).length > 1, 'the order.updated of the cancelation', 10_000);
      // From its first status on: the host knew of the order before Stripe refused it.
      expect(statusesSent(userId, order.id)).toEqual(['pending', 'canceled']);
      expect(host.accepted(userId).at(-1)!.body.data).toMatchObject(await client.orders.get.query({ orderId: order.id }));
      const audit = await api.db.selectFrom('order_transitions').selectAll().where('order_id', '=', order.id).orderBy('id').execute();
      expect(audit.map((t) => [t.from_status, t.to_status, t.cause])).toEqual([[null, 'pending', 'system'], ['pending', 'canceled', 'system']]);
      expect(audit[1]!.reason).toContain('checkout session could not be created');
    });

    it('an expired checkout, a failed async payment and an admin override each reach the host', async () => {
      const admin = trpcClient(api.url, (await createAdminToken(api.db, { name: `ops-doors-${kind}`, role: 'operator', createdBy: 'test' })).token);
      const expired = await checkoutAs(api, `u_expired_${kind}`);
      await simulator.runJourney('session_expired', expired.checkoutSessionId);
      const failed = await checkoutAs(api, `u_async_failed_${kind}`);
      await simulator.runJourney('async_failure', failed.checkoutSessionId);
      await waitForInbox(api.db);
      expect((await expired.client.orders.get.query({ orderId: expired.orderId })).status).toBe('canceled');
      expect((await failed.client.orders.get.query({ orderId: failed.orderId })).status).toBe('failed');
      await admin.admin.orders.override.mutate({ orderId: failed.orderId, to: 'canceled', reason: 'customer asked us to close it' });
      await until(() => statusesSent(`u_expired_${kind}`, expired.orderId).includes('canceled'), 'the expired checkout');
      await until(() => statusesSent(`u_async_failed_${kind}`, failed.orderId).at(-1) === 'canceled', 'the override');
      // Every status the order went through, in order (when the failure is applied before the
      // checkout's completion, `processing` is stale and the order never was processing).
      const trail = await api.db.selectFrom('order_transitions').select('to_status').where('order_id', '=', failed.orderId).orderBy('id').execute();
      expect(trail.map((t) => t.to_status).slice(0, 1)).toEqual(['pending']);
      expect(statusesSent(`u_async_failed_${kind}`, failed.orderId)).toEqual(trail.map((t) => t.to_status));
      expect(statusesSent(`u_async_failed_${kind}`, failed.orderId).slice(-2)).toEqual(['failed', 'canceled']);
    });

    it('an expiry Settle never heard of, found by reconciling with Stripe, reaches the host', async () => {
      const admin = trpcClient(api.url, (await createAdminToken(api.db, { name: `ops-reconcile-${kind}`, role: 'operator', createdBy: 'test' })).token);
      const userId = `u_lost_expiry_${kind}`;
      const { orderId, checkoutSessionId } = await checkoutAs(api, userId);
      await simulator.runJourney('session_expired', checkoutSessionId, { drop: ['checkout.session.expired'] });
      await waitForInbox(api.db);
      expect((await api.db.selectFrom('orders').select('status').where('id', '=', orderId).executeTakeFirstOrThrow()).status).toBe('pending');
      const reconciled = await admin.admin.orders.reconcile.mutate({ orderId, reason: 'customer says the link expired' });
      expect(reconciled.order.status).toBe('canceled');
      await until(() => statusesSent(userId, orderId).includes('canceled'), 'the reconciled expiry');
    });
  });

  describe('no host configured: the outbox keeps changes for its retention period, not forever', () => {
    let api: TestApi;
    beforeAll(async () => {
      api = await startApi(kind, { HOST_WEBHOOK_PRUNE_INTERVAL_MS: '100' });
    });
    afterAll(async () => {
      await api?.close();
    });

    const rowsOf = (userId: string) =>
      api.db.selectFrom('host_deliveries').select(['id', 'sequence', 'state', 'attempts']).where('user_id', '=', userId).orderBy('sequence').execute();
    const daysAgo = (days: number) => sql<Date>`now() - ${`${days} days`}::interval`;

    it('drops what was delivered, dead or never sent past the retention, and keeps what may still be sent', async () => {
      const users = ['fresh', 'stale', 'behind', 'done', 'dead', 'late'].map((u) => `u_retention_${u}_${kind}`);
      const [fresh, stale, behind, done, dead, late] = users as [string, string, string, string, string, string];
      for (const userId of users) await grantCredits(api.db, userId, 5);
      for (const userId of [stale, behind]) await grantCredits(api.db, userId, 1);
      // Nothing sends them: every change waits in the outbox, never tried.
      for (const userId of users) expect((await rowsOf(userId)).every((r) => r.state === 'pending' && r.attempts === 0)).toBe(true);

      const { token } = await createAdminToken(api.db, { name: `viewer-retention-${kind}`, role: 'viewer', createdBy: 'test' });
      expect(await trpcClient(api.url, token).admin.deliveries.status.query()).toMatchObject({ configured: false, retentionDays: 30 });

      // 31 days on: written then, and (for some) delivered or dead then, or tried by a host configured then.
      // (Written-at moves last, in one statement: until then nothing is old enough for the pruner running meanwhile.)
      const [doneRow] = await rowsOf(done);
      const [deadRow] = await rowsOf(dead);
      const [lateRow] = await rowsOf(late);
      const [behindHead] = await rowsOf(behind);
      await api.db.updateTable('host_deliveries').set({ state: 'delivered', attempts: 1, delivered_at: daysAgo(31) }).where('id', '=', doneRow!.id).execute();
      await api.db.updateTable('host_deliveries').set({ state: 'dead', attempts: 10, dead_at: daysAgo(30.5), last_error: 'HTTP 500' }).where('id', '=', deadRow!.id).execute();
      // Delivered only yesterday, after a long outage: kept for the console.
      await api.db.updateTable('host_deliveries').set({ state: 'delivered', attempts: 40, delivered_at: daysAgo(1) }).where('id', '=', lateRow!.id).execute();
      // Still being tried: its user's next message waits behind it and will be sent.
      await api.db.updateTable('host_deliveries').set({ attempts: 2, last_error: 'HTTP 500' }).where('id', '=', behindHead!.id).execute();
      const attempt = { attempted_at: new Date(), duration_ms: 5, response_status: 500, response_body: 'host is down', error: null, worker: 'test' };
      await api.db.insertInto('host_delivery_attempts').values([{ ...attempt, delivery_id: doneRow!.id }, { ...attempt, delivery_id: deadRow!.id }]).execute();
      await api.db.updateTable('host_deliveries').set({ created_at: daysAgo(31) }).where('user_id', 'in', [stale, behind, done, dead, late]).execute();

      await until(async () => (await rowsOf(stale)).length === 0 && (await rowsOf(done)).length === 0 && (await rowsOf(dead)).length === 0, 'pruning', 10_000);
      expect(await api.db.selectFrom('host_delivery_attempts').select('id').where('delivery_id', 'in', [doneRow!.id, deadRow!.id]).execute()).toEqual([]);
      expect((await rowsOf(fresh)).map((r) => r.state)).toEqual(['pending']);
      expect((await rowsOf(behind)).map((r) => [r.sequence, r.attempts])).toEqual([[1, 2], [2, 0]]);
      expect((await rowsOf(late)).map((r) => r.state)).toEqual(['delivered']);

      // The user's sequence goes on from where it was: a host that connects later can still drop stale messages.
      await grantCredits(api.db, stale, 1);
      expect((await rowsOf(stale)).map((r) => r.sequence)).toEqual([3]);
    });
  });
});

describe.skipIf(!process.env.DATABASE_URL)('two Settle instances sharing the host outbox', () => {
  let database: TestDatabase;
  let instances: TestApi[] = [];
  let host: HostReceiver;
  beforeAll(async () => {
    host = await startHostReceiver(SECRET);
    database = await createTestDatabase('postgres');
    const env = { HOST_WEBHOOK_URL: host.url, HOST_WEBHOOK_SECRET: SECRET, HOST_WEBHOOK_RETRY_DELAYS_MS: '0,50,100', HOST_WEBHOOK_MAX_ATTEMPTS: '100', HOST_WEBHOOK_CONCURRENCY: '3' };
    instances = [await startApi('postgres', env, { database }), await startApi('postgres', env, { database })];
  });
  afterAll(async () => {
    for (const api of instances) await api.close();
    await database?.dispose();
    await host?.close();
  });

  it('delivers every change once the host recovers, each user in order, whichever instance sends', async () => {
    host.mode = 'fail';
    const users = Array.from({ length: 6 }, (_, i) => `u_shared_${i}`);
    await Promise.all(
      users.map(async (userId, i) => {
        const api = instances[i % 2]!;
        await grantCredits(api.db, userId, 20);
        const client = trpcClient(api.url, await userToken(userId));
        for (let k = 0; k < 5; k++) await client.entitlements.consume.mutate({ credits: 1, idempotencyKey: `k${k}` });
      }),
    );
    await until(() => host.requests.length >= 12, 'failed attempts from both instances');
    host.mode = 'ok';
    const db = instances[0]!.db;
    await until(async () => (await db.selectFrom('host_deliveries').select('id').where('state', '!=', 'delivered').execute()).length === 0, 'every delivery');
    for (const userId of users) {
      const seen = host.requests.filter((r) => r.body.data.userId === userId).map((r) => r.body.sequence);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      // Accepted once each: a leased message is never sent by the other instance meanwhile.
      expect(host.accepted(userId).map((r) => r.body.data.credits)).toEqual([20, 19, 18, 17, 16, 15]);
    }
  });
});
