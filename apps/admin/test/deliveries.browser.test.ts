/**
 * The host webhook pages of the console in a real browser (Debian's Chromium, playwright-core)
 * against a real API on PGlite sending to a real HTTP host that refuses, then accepts: an operator
 * finds dead deliveries, reads a delivery's attempts, replays every dead delivery with progress,
 * and opens the customer's credit ledger. Screenshots go to test-results/screenshots-deliveries.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newHostWebhookSecret, startHostReceiver, type HostReceiver } from '../../api/test/host-receiver.js';
import { grantCredits, startApi, trpcClient, userToken, type TestApi } from '../../api/test/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN_DIR = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOTS = resolve(ADMIN_DIR, 'test-results/screenshots-deliveries');
const OWNER = { email: 'owner@settle.test', password: 'correct-horse-battery-staple' };
const SECRET = newHostWebhookSecret();

// CI installs Chromium (.ci/needs-chromium) and must run this; elsewhere, no Chromium means skip.
const skip = !existsSync(CHROMIUM) && !process.env.CI;

describe.skipIf(skip)('host webhook deliveries in the console', () => {
  let api: TestApi;
  let host: HostReceiver;
  let browser: Browser;
  let page: Page;
  let consoleDir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    rmSync(SCREENSHOTS, { recursive: true, force: true });
    mkdirSync(SCREENSHOTS, { recursive: true });
    consoleDir = mkdtempSync(join(tmpdir(), 'settle-console-'));
    execFileSync(resolve(ADMIN_DIR, 'node_modules/.bin/vite'), ['build', '--outDir', consoleDir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: ADMIN_DIR,
      stdio: 'inherit',
      env: { ...process.env, NODE_ENV: 'production' },
    });
    host = await startHostReceiver(SECRET);
    api = await startApi('pglite', {
      ADMIN_EMAIL: OWNER.email,
      ADMIN_PASSWORD: OWNER.password,
      ADMIN_CONSOLE_DIR: consoleDir,
      HOST_WEBHOOK_URL: host.url,
      HOST_WEBHOOK_SECRET: SECRET,
      HOST_WEBHOOK_MAX_ATTEMPTS: '2',
      HOST_WEBHOOK_RETRY_DELAYS_MS: '0,50',
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await host?.close();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  it('shows dead deliveries with their attempts, replays them with progress, and shows the customer ledger', { timeout: 240_000 }, async () => {
    host.mode = 'fail';
    await grantCredits(api.db, 'u_console', 10);
    const user = trpcClient(api.url, await userToken('u_console'));
    await user.entitlements.consume.mutate({ credits: 4, idempotencyKey: 'report-1', reason: 'monthly report' });
    await expect
      .poll(async () => (await api.db.selectFrom('host_deliveries').select('id').where('state', '=', 'dead').execute()).length, { timeout: 20_000 })
      .toBe(2);

    await page.goto(`${api.url}/admin/`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deliveries', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Deliveries' }).waitFor();
    await page.getByRole('navigation', { name: 'Delivery states' }).getByRole('link', { name: 'Dead' }).click();
    await expect.poll(() => page.locator('table tbody tr').count(), { timeout: 15_000 }).toBe(2);
    expect(await page.locator('table tbody').textContent()).toContain('HTTP 500');
    await page.screenshot({ path: join(SCREENSHOTS, '01-dead-deliveries.png'), fullPage: true });

    // A delivery's detail: the body sent and both refused attempts.
    await page.locator('table tbody tr').last().getByRole('link').first().click();
    await page.getByRole('heading', { level: 1, name: /^Delivery / }).waitFor();
    await page.getByRole('heading', { name: 'Attempts (2)' }).waitFor();
    expect(await page.locator('.attempts').textContent()).toContain('host is down');
    expect(await page.locator('pre.payload').textContent()).toContain('"entitlements.updated"');
    await page.screenshot({ path: join(SCREENSHOTS, '02-delivery-detail.png'), fullPage: true });

    // The host is fixed: replay everything dead since a time.
    host.mode = 'ok';
    await page.goBack();
    await page.getByRole('heading', { name: 'Replay all dead deliveries' }).waitFor();
    await page.getByLabel('Reason (required)').fill('host endpoint fixed, INC-77');
    await page.getByRole('button', { name: 'Replay dead since…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Replay all dead deliveries' }).click();
    await page.getByText('Replay finished: 2 of 2').waitFor({ timeout: 30_000 });
    await page.getByText('The host accepted every replayed delivery.').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, '03-bulk-replay.png'), fullPage: true });
    expect(host.accepted('u_console').map((r) => [r.body.sequence, r.body.data.credits])).toEqual([
      [1, 10],
      [2, 6],
    ]);

    // The customer: balance and the ledger with the spend's reason.
    await page.getByRole('navigation', { name: 'Delivery states' }).getByRole('link', { name: 'Delivered' }).click();
    await page.getByRole('link', { name: 'u_console' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Customer' }).waitFor();
    await page.getByRole('heading', { name: 'Credit ledger' }).waitFor();
    const ledger = await page.locator('table tbody').textContent();
    expect(ledger).toContain('monthly report');
    expect(ledger).toContain('report-1');
    expect(await page.locator('.facts').first().textContent()).toContain('6');
    await page.screenshot({ path: join(SCREENSHOTS, '04-customer-ledger.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('sends a pending delivery waiting for a retry hours away at once with Send now', { timeout: 120_000 }, async () => {
    host.mode = 'ok';
    // A message that failed once while the host was down and now waits an hour for its retry
    // (written so in its own transaction: the sender never sees it due).
    await grantCredits(api.db, 'u_waiting', 3, (trx) =>
      trx
        .updateTable('host_deliveries')
        .set({ attempts: 1, last_error: 'HTTP 500', next_attempt_at: new Date(Date.now() + 3_600_000) })
        .where('user_id', '=', 'u_waiting')
        .execute(),
    );
    const [waiting] = await api.db.selectFrom('host_deliveries').select('id').where('user_id', '=', 'u_waiting').execute();

    await page.goto(`${api.url}/admin/deliveries/${waiting!.id}`);
    // Signed in already when the test before it ran.
    const heading = page.getByRole('heading', { level: 1, name: /^Delivery / });
    const signIn = page.getByRole('button', { name: 'Sign in' });
    await heading.or(signIn).waitFor();
    if (await signIn.isVisible()) {
      await page.getByLabel('Email').fill(OWNER.email);
      await page.getByLabel('Password').fill(OWNER.password);
      await signIn.click();
    }
    await heading.waitFor();
    await page.getByRole('button', { name: 'Send now' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: 'Send this webhook now?' }).waitFor();
    expect(await dialog.textContent()).toContain('attempts so far still count');
    await dialog.getByLabel('Reason (required)').fill('host endpoint fixed, INC-78');
    await dialog.getByRole('button', { name: 'Send now' }).click();
    await dialog.getByText('The delivery is due now').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, '05-send-now.png'), fullPage: true });
    await expect.poll(() => host.accepted('u_waiting').length, { timeout: 5_000 }).toBe(1);
    expect(host.accepted('u_waiting')[0]!.webhookId).toBe(waiting!.id);
    expect(pageErrors).toEqual([]);
  });
});
