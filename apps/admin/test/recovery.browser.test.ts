/**
 * Recovering missed events from the console, in a real browser (Debian's Chromium, never a
 * downloaded one) against a real API on PGlite wired to the offline Stripe simulator. The simulator
 * records a payment's events without delivering them (as Stripe after its retries gave up); an
 * operator recovers them with a reason and follows the progress bar to the summary.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startStripeSimulator, type StripeSimulator } from '@settle/stripe-simulator';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, trpcClient, userToken, waitForInbox, WEBHOOK_SECRET, type TestApi } from '../../api/test/harness.js';
import { buildConsole, launchChromium, NO_BROWSER, SCREENSHOTS } from './browser-support.js';

const OWNER = { email: 'owner@settle.test', password: 'correct-horse-battery-staple' };

describe.skipIf(NO_BROWSER)('recovering missed events from the console', () => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let browser: Browser;
  let page: Page;
  let consoleDir: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    consoleDir = buildConsole();
    simulator = await startStripeSimulator({ retryDelayMs: 20 });
    api = await startApi('pglite', {
      ADMIN_EMAIL: OWNER.email,
      ADMIN_PASSWORD: OWNER.password,
      ADMIN_CONSOLE_DIR: consoleDir,
      STRIPE_SECRET_KEY: 'sk_test_settle',
      STRIPE_API_BASE: simulator.url,
    });
    simulator.configureWebhook({ url: `${api.url}/webhooks/stripe`, secret: WEBHOOK_SECRET });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' })).newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await simulator?.close();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  it('an operator recovers a payment whose events were never delivered, with a progress bar and a summary', { timeout: 120_000 }, async () => {
    const buyer = trpcClient(api.url, await userToken('user_recovered'));
    const { orderId, checkoutSessionId } = await buyer.checkout.create.mutate({ productId: 'credits10' });
    const lost = await simulator.runJourney('card_success', checkoutSessionId, { deliver: false });
    expect((await buyer.orders.get.query({ orderId })).status).toBe('pending');

    await page.goto(`${api.url}/admin/`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Events', exact: true }).click();
    await page.getByRole('heading', { name: 'Recover missed events' }).waitFor();

    await page.getByLabel('Why recover (required)').fill('endpoint misconfigured for 4 days (INC-77)');
    await page.getByRole('button', { name: 'Recover missed events' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Recover' }).click();
    await page.getByText(`${lost.events.length} were missing and are now stored`).waitFor({ timeout: 30_000 });
    expect(await page.locator('#recover-progress').getAttribute('value')).toBe('3');
    await page.screenshot({ path: join(SCREENSHOTS, 'events-recover.png'), fullPage: true });

    await waitForInbox(api.db);
    expect((await buyer.orders.get.query({ orderId })).status).toBe('succeeded');
    const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'events.recover').execute();
    expect(audit).toEqual([expect.objectContaining({ actor: `admin:${OWNER.email}`, reason: 'endpoint misconfigured for 4 days (INC-77)' })]);
  });
});
