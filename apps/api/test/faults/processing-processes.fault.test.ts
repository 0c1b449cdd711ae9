import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { PAYMENT_JOURNEYS, deliveryOrder, seededRandom } from '@settle/stripe-simulator';
import { describe, expect, it } from 'vitest';
import { checkOracle, planJourneys, sendAll, waitForConvergence, type ApiProcess } from './cluster.js';
import { useCluster } from './use-cluster.js';
import { actsOnEventType } from '../../src/payments/stripe-event-resolver.js';

/** The processing processes an API forked (under tsx it has an esbuild child too). */
function childrenOf(api: ApiProcess): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(api.proc.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => /main\.(ts|js)/.test(line))
      .map((line) => Number(line.trim().split(' ')[0]))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

/** A process's nice value (field 19 of /proc/<pid>/stat, after the command's parenthesis). */
const niceOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until<T>(what: string, probe: () => Promise<T | null | undefined> | T | null | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Sum of one metric's samples (optionally those with a label value) in a Prometheus text scrape. */
function sample(text: string, name: string, label = ''): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(label) && !l.startsWith('#'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

// Forked processes against one PostgreSQL: only meaningful on a real server.
describe.skipIf(!process.env.DATABASE_URL)('WORKER_PROCESSES: processing in processes the API forks', () => {
  const cluster = useCluster();

  it('processes every event in the forked processes, at a lower priority, and one scrape shows their work', async () => {
    const random = seededRandom(20261202);
    const { orders, events } = await planJourneys(cluster.database.db, 60, random, PAYMENT_JOURNEYS);
    const api = await cluster.spawn({ WORKER_PROCESSES: '2', WORKER_NICE: '7' });
    const children = await until('two processing processes', () => (childrenOf(api).length === 2 ? childrenOf(api) : null));
    for (const pid of children) expect(niceOf(pid)).toBe(7);
    expect(niceOf(api.proc.pid!)).toBe(0);

    await sendAll(deliveryOrder(events, { duplicates: 0.2, shuffle: true, random }), () => [api.url], { concurrency: 8, deadlineMs: 120_000 });
    await waitForConvergence(cluster.database.db, 60_000);
    expect(await checkOracle(cluster.database.db, orders, new Set(events.map((e) => e.id)))).toEqual([]);

    // The API processed nothing itself: every processing attempt was counted by a processing
    // process, and the API's scrape adds theirs to its own.
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    const attempts = await cluster.database.db.selectFrom('stripe_events').select((eb) => eb.fn.sum<string>('attempts').as('n')).executeTakeFirstOrThrow();
    // Every event of a type Settle acts on; the others were settled as they were stored.
    expect(sample(metrics, 'settle_event_attempts_total', 'result="processed"')).toBe(events.filter((e) => actsOnEventType(e.type, false)).length);
    expect(sample(metrics, 'settle_event_attempts_total', 'result="processed"') + sample(metrics, 'settle_event_attempts_total', 'result="retry"')).toBe(Number(attempts.n));
    expect(sample(metrics, 'settle_webhook_requests_total')).toBeGreaterThanOrEqual(events.length);
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
  }, 180_000);
});

describe.skipIf(!process.env.DATABASE_URL)('WORKER_PROCESSES: a processing process that dies', () => {
  const cluster = useCluster();

  it('starts a killed processing process again; readiness says so meanwhile, and nothing is lost', async () => {
    const random = seededRandom(7);
    const { orders, events } = await planJourneys(cluster.database.db, 80, random, PAYMENT_JOURNEYS);
    const api = await cluster.spawn({ WORKER_PROCESSES: '1' });
    const [first] = await until('the processing process', () => (childrenOf(api).length === 1 ? childrenOf(api) : null));

    const sending = sendAll(deliveryOrder(events, { duplicates: 0.1, shuffle: true, random }), () => [api.url], { concurrency: 4, deadlineMs: 120_000 });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(first!, 'SIGKILL');
    const reason = await until('readiness to report the dead process', async () => {
      const res = await fetch(`${api.url}/readyz`);
      return res.status === 503 ? ((await res.json()) as { reason: string }).reason : null;
    }, 5_000);
    expect(reason).toMatch(/processing process 0 is not running/);

    const [second] = await until('a new processing process', () => childrenOf(api).filter((pid) => pid !== first).length === 1 ? childrenOf(api) : null);
    expect(second).not.toBe(first);
    await sending;
    await waitForConvergence(cluster.database.db, 60_000);
    expect(await checkOracle(cluster.database.db, orders, new Set(events.map((e) => e.id)))).toEqual([]);
    await until('readiness again', async () => (await fetch(`${api.url}/readyz`)).status === 200);
  }, 180_000);

  it('stops its processing processes when it stops', async () => {
    const api = await cluster.spawn({ WORKER_PROCESSES: '2' });
    const children = await until('two processing processes', () => (childrenOf(api).length === 2 ? childrenOf(api) : null));
    api.proc.kill('SIGTERM');
    const { code } = await api.exited;
    expect(code).toBe(0);
    for (const pid of children) expect(alive(pid)).toBe(false);
  }, 60_000);

  it('a processing process whose API is killed stops on its own', async () => {
    const api = await cluster.spawn({ WORKER_PROCESSES: '1' });
    const [child] = await until('the processing process', () => (childrenOf(api).length === 1 ? childrenOf(api) : null));
    api.proc.kill('SIGKILL');
    await api.exited;
    await until('the orphan to exit', () => !alive(child!), 20_000);
  }, 60_000);
});
