import { createServer, connect, type Server, type Socket } from 'node:net';
import { createTestDatabase, type TestDatabase } from '@settle/db/testing';
import { PAYMENT_JOURNEYS, deliverEvent, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_SECRET } from '../harness.js';
import { checkOracle, freePort, planJourneys, sendAll, spawnApi, waitForConvergence, type ApiProcess } from './cluster.js';

/** A TCP proxy to PostgreSQL that the test can cut (dropping every connection) and restore. */
function pgProxy(port: number, target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let up = true;
  const server: Server = createServer((client) => {
    if (!up) return client.destroy();
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return {
    listen: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      up = true;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe.skipIf(!process.env.DATABASE_URL)('database outage behind a TCP proxy', () => {
  let database: TestDatabase;
  let api: ApiProcess | undefined;
  let proxy: ReturnType<typeof pgProxy>;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    api?.proc.kill('SIGKILL');
    await proxy?.close();
    await database?.dispose();
  });

  it('answers 5xx (never 2xx) while the database is away, fails readiness, and converges after', async () => {
    const random = seededRandom(42);
    const { orders, events } = await planJourneys(database.db, 120, random, PAYMENT_JOURNEYS);
    const deliveries = deliveryOrder(events, { duplicates: 0.2, shuffle: true, random });
    const target = new URL(database.url!);
    const proxyPort = await freePort();
    proxy = pgProxy(proxyPort, { host: target.hostname, port: Number(target.port || 5432) });
    await proxy.listen();
    const viaProxy = new URL(database.url!);
    viaProxy.host = `127.0.0.1:${proxyPort}`;
    api = await spawnApi(viaProxy.toString(), { DATABASE_POOL_MAX: '4' });
    const url = api.url;

    const half = Math.floor(deliveries.length / 2);
    const first = await sendAll(deliveries.slice(0, half), () => [url], { concurrency: 8, deadlineMs: 60_000 });
    expect(first.acknowledged).toBe(half);

    proxy.cut();
    const outage: number[] = [];
    const probe = deliveries[half]!;
    const cutAt = Date.now();
    let readyDuringOutage = 0;
    while (Date.now() - cutAt < 4_000) {
      const r = await deliverEvent(`${url}/webhooks/stripe`, probe, WEBHOOK_SECRET);
      outage.push(r.status);
      const ready = await fetch(`${url}/readyz`).catch((err: unknown) => {
        throw new Error(`API died during the outage: ${String(err)}\n${api?.output()}`);
      });
      if (ready.ok) readyDuringOutage += 1;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(outage.length).toBeGreaterThan(5);
    expect(outage.every((s) => s >= 500)).toBe(true);
    expect(readyDuringOutage).toBe(0);
    proxy.restore();

    const rest = await sendAll(deliveries.slice(half), () => [url], { concurrency: 8, deadlineMs: 60_000 });
    expect((await fetch(`${url}/readyz`)).ok).toBe(true);
    const convergedInMs = await waitForConvergence(database.db, 60_000);
    const problems = await checkOracle(database.db, orders, new Set(events.map((e) => e.id)));
    console.log(
      `db outage: ${events.length} events, ${deliveries.length} deliveries; during a 4 s outage ${outage.length} probes answered ` +
        `${JSON.stringify(Object.fromEntries([...new Set(outage)].map((s) => [s, outage.filter((x) => x === s).length])))}; ` +
        `after restore ${rest.sent} requests, converged in ${convergedInMs} ms`,
    );
    expect(problems).toEqual([]);
  }, 180_000);
});
