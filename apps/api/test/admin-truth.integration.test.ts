import { randomUUID } from 'node:crypto';
import { createAdminToken, sql } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiWithSimulator, trpcClient, userToken, waitForInbox } from './harness.js';

const OWNER = { email: 'owner@settle.test', password: 'owner-password-123' };

type Reply = { status: number; data?: unknown; code?: string; message?: string; setCookie: string | null };

async function call(url: string, path: string, kind: 'query' | 'mutation', input: unknown, auth: { cookie?: string; bearer?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { origin: url };
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.bearer) headers.authorization = `Bearer ${auth.bearer}`;
  const res =
    kind === 'query'
      ? await fetch(`${url}/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { headers })
      : await fetch(`${url}/trpc/${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(input ?? null) });
  const body = (await res.json()) as { result?: { data: unknown }; error?: { message: string; data: { code: string } } };
  return { status: res.status, data: body.result?.data, code: body.error?.data.code, message: body.error?.message, setCookie: res.headers.get('set-cookie') };
}

async function login(url: string, email: string, password: string): Promise<string> {
  const r = await call(url, 'auth.login', 'mutation', { email, password });
  expect(r.code, r.message).toBeUndefined();
  return r.setCookie!.split(';')[0]!;
}

describe.each(TEST_BACKENDS)('admin actions tell the truth on %s', (kind) => {
  let setup: Awaited<ReturnType<typeof startApiWithSimulator>>;
  let url: string;
  let owner: string;
  let operator: string;
  const audit = (action: string, target?: string) => {
    let q = setup.api.db.selectFrom('admin_audit').selectAll().where('action', '=', action);
    if (target) q = q.where('target', '=', target);
    return q.orderBy('id').execute();
  };

  /** A paid order through the offline Stripe: checkout, card journey, webhooks processed. */
  async function paidOrder(userId: string, opts: { deliver?: boolean } = {}) {
    const { orderId, checkoutSessionId } = await trpcClient(url, await userToken(userId)).checkout.create.mutate({ productId: 'credits10' });
    const run = await setup.simulator.runJourney('card_success', checkoutSessionId, { deliver: opts.deliver ?? true });
    await waitForInbox(setup.api.db);
    const pi = run.events.find((e) => e.type === 'payment_intent.succeeded')!.data.object.id as string;
    return { orderId, paymentIntentId: pi };
  }

  beforeAll(async () => {
    setup = await startApiWithSimulator(kind, { ADMIN_EMAIL: OWNER.email, ADMIN_PASSWORD: OWNER.password });
    url = setup.api.url;
    owner = await login(url, OWNER.email, OWNER.password);
    const created = await call(url, 'admin.users.create', 'mutation', { email: 'ops@settle.test', password: 'ops-password-123', role: 'operator', reason: 'on call' }, { cookie: owner });
    expect(created.code, created.message).toBeUndefined();
    operator = await login(url, 'ops@settle.test', 'ops-password-123');
  });
  afterAll(async () => {
    await setup?.close();
  });

  it('admin.tokens: owners create (shown once) and revoke, audited; a token dies with its account and never exceeds its role', async () => {
    await call(url, 'admin.users.create', 'mutation', { email: 'owner2@settle.test', password: 'second-owner-pass', role: 'owner', reason: 'deputy' }, { cookie: owner });
    const deputy = await login(url, 'owner2@settle.test', 'second-owner-pass');
    const made = await call(url, 'admin.tokens.create', 'mutation', { name: 'deploy-bot', role: 'operator', reason: 'CI deploys' }, { cookie: deputy });
    expect(made.code, made.message).toBeUndefined();
    const { token } = made.data as { token: string };
    expect(token).toMatch(/^stl_admin_/);
    expect((await call(url, 'auth.me', 'query', undefined, { bearer: token })).data).toMatchObject({ actor: 'token:deploy-bot', role: 'operator' });
    expect((await call(url, 'admin.tokens.create', 'mutation', { name: 'deploy-bot', role: 'viewer', reason: 'again' }, { cookie: deputy })).code).toBe('CONFLICT');
    expect((await call(url, 'admin.tokens.create', 'mutation', { name: 'x-bot', role: 'viewer', reason: 'not mine' }, { cookie: operator })).code).toBe('FORBIDDEN');

    const listed = (await call(url, 'admin.tokens.list', 'query', undefined, { cookie: owner })).data as { name: string; owner: string; revokedAt: string | null }[];
    expect(listed.find((t) => t.name === 'deploy-bot')).toMatchObject({ owner: 'owner2@settle.test', revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(token);
    expect(await audit('tokens.create', 'token:deploy-bot')).toEqual([expect.objectContaining({ actor: 'admin:owner2@settle.test', reason: 'CI deploys' })]);

    // The deputy leaves: their token stops working at once.
    expect((await call(url, 'admin.users.disable', 'mutation', { email: 'owner2@settle.test', reason: 'left the company' }, { cookie: owner })).code).toBeUndefined();
    expect((await call(url, 'auth.me', 'query', undefined, { bearer: token })).code).toBe('UNAUTHORIZED');

    const other = await call(url, 'admin.tokens.create', 'mutation', { name: 'report-bot', role: 'viewer', reason: 'weekly report' }, { cookie: owner });
    const revoked = await call(url, 'admin.tokens.revoke', 'mutation', { name: 'report-bot', reason: 'report retired' }, { cookie: owner });
    expect(revoked.code, revoked.message).toBeUndefined();
    expect((await call(url, 'auth.me', 'query', undefined, { bearer: (other.data as { token: string }).token })).code).toBe('UNAUTHORIZED');
    expect(await audit('tokens.revoke', 'token:report-bot')).toHaveLength(1);
  });

  it('a double-clicked refund confirm is one Stripe refund and one audit row, written before and settled after the call', async () => {
    const { orderId } = await paidOrder('refund_user');
    const requestId = randomUUID();
    const input = { orderId, amount: 300, reason: 'customer asked (ticket 7)', requestId };
    const [a, b] = await Promise.all([
      call(url, 'admin.orders.refund', 'mutation', input, { cookie: operator }),
      call(url, 'admin.orders.refund', 'mutation', input, { cookie: operator }),
    ]);
    const ok = [a, b].filter((r) => r.code === undefined);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of [a, b]) expect([undefined, 'CONFLICT']).toContain(r.code);
    const again = await call(url, 'admin.orders.refund', 'mutation', input, { cookie: operator });
    expect(again.data).toEqual(ok[0]!.data);
    await waitForInbox(setup.api.db);
    const order = await setup.api.db.selectFrom('orders').select(['amount_refunded', 'status']).where('id', '=', orderId).executeTakeFirstOrThrow();
    expect(Number(order.amount_refunded)).toBe(300);
    const rows = await audit('orders.refund', `order:${orderId}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.details).toMatchObject({ amount: 300, status: 'succeeded', refundId: (ok[0]!.data as { refundId: string }).refundId });
    const requests = await setup.api.db.selectFrom('admin_refund_requests').selectAll().where('order_id', '=', orderId).execute();
    expect(requests).toEqual([expect.objectContaining({ state: 'succeeded', audit_id: rows[0]!.id })]);
  });

  it('a refund Stripe refuses is a readable 4xx, audited with the error', async () => {
    const { orderId } = await paidOrder('refused_user');
    // The payment is unknown to this Stripe (a restarted simulator, another account).
    await sql`update orders set payment_intent_id = 'pi_unknown_to_stripe' where id = ${orderId}`.execute(setup.api.db);
    const r = await call(url, 'admin.orders.refund', 'mutation', { orderId, reason: 'customer asked', requestId: randomUUID() }, { cookie: operator });
    expect(r.status).toBe(404);
    expect(r.code).toBe('NOT_FOUND');
    expect(r.message).toMatch(/No such payment_intent/);
    const rows = await audit('orders.refund', `order:${orderId}`);
    expect(rows.at(-1)!.details).toMatchObject({ status: 'failed', error: expect.stringMatching(/No such payment_intent/) });
  });

  it('refunds part of a needs_review order, up to what Stripe received', async () => {
    const { orderId, paymentIntentId } = await paidOrder('review_user', { deliver: false });
    await sql`update orders set status = 'needs_review', payment_intent_id = ${paymentIntentId}, review_reason = 'amount mismatch' where id = ${orderId}`.execute(setup.api.db);
    const tooMuch = await call(url, 'admin.orders.refund', 'mutation', { orderId, amount: 100_000, reason: 'refund the partial payment', requestId: randomUUID() }, { cookie: operator });
    expect(tooMuch.code).toBe('BAD_REQUEST');
    const r = await call(url, 'admin.orders.refund', 'mutation', { orderId, amount: 500, reason: 'refund the partial payment', requestId: randomUUID() }, { cookie: operator });
    expect(r.code, r.message).toBeUndefined();
    expect(r.data).toMatchObject({ amount: 500, refundId: expect.stringMatching(/^re_/) });
  });

  it('reconcile needs a reason; a reconcile Stripe cannot answer is a 4xx, audited with the error', async () => {
    const { orderId } = await paidOrder('reconcile_user');
    expect((await call(url, 'admin.orders.reconcile', 'mutation', { orderId }, { cookie: operator })).code).toBe('BAD_REQUEST');
    await sql`update orders set checkout_session_id = 'cs_unknown_to_stripe', payment_intent_id = null, status = 'pending' where id = ${orderId}`.execute(setup.api.db);
    const r = await call(url, 'admin.orders.reconcile', 'mutation', { orderId, reason: 'ticket 9: customer says paid' }, { cookie: operator });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.message).toMatch(/No such checkout/);
    const rows = await audit('orders.reconcile', `order:${orderId}`);
    expect(rows.at(-1)).toMatchObject({ reason: 'ticket 9: customer says paid', details: expect.objectContaining({ status: 'failed', error: expect.stringMatching(/No such checkout/) }) });
  });

  it('the CLI-made tokens of old keep working (no account), and token creation needs an account', async () => {
    const { token } = await createAdminToken(setup.api.db, { name: `cli-${kind}`, role: 'owner', createdBy: 'cli' });
    expect((await call(url, 'auth.me', 'query', undefined, { bearer: token })).data).toMatchObject({ role: 'owner' });
    expect((await call(url, 'admin.tokens.create', 'mutation', { name: 'orphan', role: 'viewer', reason: 'from a cli token' }, { bearer: token })).code).toBe('PRECONDITION_FAILED');
  });
});
