import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createAdminToken } from '@settle/db';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toClientFeature } from '../src/flags/flag-definition.js';
import { NEW_HANDLER_FLAG } from '../src/flags/handler-flag.js';
import { startApi, trpcClient, type TestApi } from './harness.js';
import { newOrder } from './rollout-helpers.js';

/** A loopback port nothing listens on: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function capturingLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('an unreachable Unleash never stops payments', () => {
  let api: TestApi | null = null;
  let backupDir: string;
  let url: string;
  beforeAll(async () => {
    url = `http://127.0.0.1:${await closedPort()}/api/`;
  });
  afterEach(async () => {
    await api?.close();
    api = null;
    if (backupDir) rmSync(backupDir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await api?.close();
  });

  const env = (extra: Record<string, string> = {}) => ({
    UNLEASH_URL: url,
    UNLEASH_API_TOKEN: 'default:development.unused',
    UNLEASH_REFRESH_MS: '100',
    UNLEASH_STARTUP_TIMEOUT_MS: '300',
    UNLEASH_BACKUP_DIR: backupDir,
    ...extra,
  });

  it('with nothing known, new orders get HANDLER_MODE; a metric and a log line say so', async () => {
    backupDir = mkdtempSync(join(tmpdir(), 'settle-unleash-'));
    const { logger, lines } = capturingLogger();
    api = await startApi('pglite', env({ HANDLER_MODE: 'legacy' }), { logger });
    const a = api;
    await until(() => a.settle.deps.flags.view().status.consecutiveErrors > 0);

    expect(await newOrder(a, 'user_outage_1')).toMatchObject({ handler: 'legacy', shadow: false });
    const viewer = trpcClient(a.url, (await createAdminToken(a.db, { name: 'look', role: 'viewer', createdBy: 'test' })).token);
    expect(await viewer.admin.flags.get.query()).toMatchObject({ source: 'unleash', defined: false, ready: false, sourceUp: false, mode: 'legacy', fallbackHandler: 'legacy' });

    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/settle_flag_source_up\{source="unleash"\} 0/);
    expect(metrics).toMatch(/settle_flag_fetch_errors_total\{source="unleash"\} [1-9]/);
    expect(metrics).toMatch(/settle_handler_choices_total\{handler="legacy",shadow="false",basis="default"\} 1/);
    const warnings = lines.filter((l) => l.msg.startsWith('flag source unreachable'));
    // One line when the source goes down, not one per poll.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('HANDLER_MODE=legacy');
  });

  it('with the SDK’s backup from an earlier run, new orders follow the last known flag', async () => {
    backupDir = mkdtempSync(join(tmpdir(), 'settle-unleash-'));
    const feature = toClientFeature({ name: NEW_HANDLER_FLAG, enabled: true, mode: 'new', rollout_percent: 100 });
    // The file unleash-client writes after every successful fetch (appName "settle").
    writeFileSync(join(backupDir, 'unleash-backup-settle.json'), JSON.stringify({ version: 2, features: [feature], segments: [] }));
    const { logger, lines } = capturingLogger();
    api = await startApi('pglite', env({ HANDLER_MODE: 'legacy' }), { logger });
    const a = api;
    await until(() => a.settle.deps.flags.view().status.consecutiveErrors > 0);

    expect(a.settle.deps.flags.view()).toMatchObject({ defined: true, mode: 'new', rolloutPercent: 100, status: { ready: true, up: false } });
    expect(await newOrder(a, 'user_outage_2')).toMatchObject({ handler: 'new', shadow: false });
    expect(lines.some((l) => l.msg === 'flag source unreachable: new orders follow the last known flag (new 100%)')).toBe(true);
  });
});
