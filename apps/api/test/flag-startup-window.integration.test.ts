import { createTestDatabase } from '@settle/db/testing';
import { describe, expect, it } from 'vitest';
import { createSettle } from '../src/app.js';
import { parseEnv } from '../src/env.js';
import { createLogger } from '../src/lib/logger.js';
import { adminClient, startApi } from './harness.js';

/**
 * With Settle's own flag source, an instance starting while the kill switch is on (flag stored as
 * legacy) must not serve a checkout with HANDLER_MODE (default `new`, the handler the kill switch
 * keeps away) between opening its port and its SDK knowing the flag: it reads the stored flag
 * before it listens, and a checkout in that window waits for the SDK (bounded).
 */
describe.skipIf(!process.env.DATABASE_URL)('an instance starting while the kill switch is on', () => {
  it('never creates an order on the new handler', async () => {
    const database = await createTestDatabase('postgres');
    const first = await startApi('postgres', { HANDLER_MODE: 'new' }, { database });
    const owner = await adminClient(first, 'owner', 'owner');
    await owner.admin.flags.set.mutate({ mode: 'new', rolloutPercent: 100, reason: 'rollout' });
    await owner.admin.flags.set.mutate({ mode: 'legacy', reason: 'incident: kill switch' });
    await first.close();

    // A new instance (a restart, a scale-out) on the same database, with the default HANDLER_MODE.
    const env = parseEnv({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', STRIPE_WEBHOOK_SECRET: 'whsec_x', USER_JWT_SECRET: 'x'.repeat(32), DATABASE_URL: database.url! });
    const settle = await createSettle(env, { logger: createLogger('silent') });
    try {
      const listening = settle.listen();
      while (!settle.app.server.listening) await new Promise((r) => setImmediate(r));
      // The port is open (a load balancer's connect check passes): a checkout arrives now.
      const choice = await settle.deps.chooseHandler('user_during_start');
      await listening;
      const ready = await fetch(`http://127.0.0.1:${(settle.app.server.address() as { port: number }).port}/readyz`);
      expect({ handler: choice.handler, basis: choice.basis, readyz: ready.status }).toEqual({ handler: 'legacy', basis: 'flag', readyz: 200 });
    } finally {
      await settle.close();
      await database.dispose();
    }
  });
});
