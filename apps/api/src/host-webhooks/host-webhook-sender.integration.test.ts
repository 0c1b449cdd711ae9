import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { enqueueOrderUpdated } from '@settle/db';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '@settle/db/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../lib/metrics.js';
import { startHostWebhookSender, type HostWebhookSender } from './host-webhook-sender.js';

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(TEST_BACKENDS)('the host webhook sender on %s', (kind) => {
  let t: TestDatabase;
  let server: Server;
  let sender: HostWebhookSender;
  /** What the host answers, per user (the user id is in the body). */
  const answers = new Map<string, { status: number; body: Buffer }>();
  let requests = 0;

  beforeAll(async () => {
    t = await createTestDatabase(kind);
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests += 1;
        const userId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { userId: string } }).data.userId;
        const answer = answers.get(userId) ?? { status: 204, body: Buffer.alloc(0) };
        res.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-16le' }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sender = startHostWebhookSender({
      db: t.db,
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(),
      workerId: 'test-sender',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
      secret: `whsec_${randomBytes(32).toString('base64')}`,
      schedule: { delaysMs: [0, 20], maxAttempts: 3 },
      timeoutMs: 2_000,
      concurrency: 2,
      pollMs: 20,
    });
  });
  afterAll(async () => {
    await sender?.stop(1_000);
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await t?.dispose();
  });

  const deliveryOf = (userId: string) => t.db.selectFrom('host_deliveries').selectAll().where('user_id', '=', userId).orderBy('sequence').execute();
  const attemptsOf = async (userId: string) =>
    t.db.selectFrom('host_delivery_attempts').selectAll().where('delivery_id', 'in', (await deliveryOf(userId)).map((d) => d.id)).execute();

  // A host answering in UTF-16 (or with any binary body) puts NUL characters in the text the
  // console keeps, which PostgreSQL's text cannot hold.
  const utf16 = (text: string) => Buffer.from(text, 'utf16le');

  it('records a 2xx answer whose body holds NUL characters as delivered, and sends the user\'s next message', async () => {
    answers.set('u_nul_ok', { status: 200, body: utf16('received') });
    await t.db.transaction().execute((trx) => enqueueOrderUpdated(trx, { userId: 'u_nul_ok', orderId: 'o1', status: 'pending' }));
    await t.db.transaction().execute((trx) => enqueueOrderUpdated(trx, { userId: 'u_nul_ok', orderId: 'o1', status: 'succeeded' }));
    sender.wake();
    await until(async () => (await deliveryOf('u_nul_ok')).every((d) => d.state === 'delivered'), 'both messages delivered');
    const attempts = await attemptsOf('u_nul_ok');
    expect(attempts.map((a) => a.response_status)).toEqual([200, 200]);
    expect(attempts[0]!.response_body).toContain('r');
  });

  it('counts a failing answer whose body holds NUL characters, and ends it dead after the last attempt', async () => {
    answers.set('u_nul_fail', { status: 500, body: utf16('host is down') });
    await t.db.transaction().execute((trx) => enqueueOrderUpdated(trx, { userId: 'u_nul_fail', orderId: 'o2', status: 'pending' }));
    sender.wake();
    await until(async () => (await deliveryOf('u_nul_fail'))[0]?.state === 'dead', 'the message dead after 3 attempts');
    expect((await deliveryOf('u_nul_fail'))[0]).toMatchObject({ attempts: 3, last_error: 'HTTP 500' });
    expect((await attemptsOf('u_nul_fail')).map((a) => a.response_status)).toEqual([500, 500, 500]);
  });
});
