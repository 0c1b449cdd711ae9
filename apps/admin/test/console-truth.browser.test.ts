/**
 * The console tells an admin the truth, in a real browser (Debian's Chromium, never a downloaded
 * one) against a real API on PGlite serving the freshly built console: the plan a subscription
 * really gives, and which role a page needs.
 */
import { rmSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, buildLifecycle, seedOrder, send, startApi, trpcClient, userToken, waitForInbox, type TestApi } from '../../api/test/harness.js';
import { buildConsole, launchChromium, NO_BROWSER } from './browser-support.js';

const OWNER = { email: 'owner@settle.test', password: 'correct-horse-battery-staple' };
const T0 = Math.floor(Date.now() / 1000) - 40 * 86_400;

describe.skipIf(NO_BROWSER)('the console tells the truth', () => {
  let api: TestApi;
  let browser: Browser;
  let page: Page;
  let consoleDir: string;
  const pageErrors: string[] = [];
  const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });

  beforeAll(async () => {
    consoleDir = buildConsole();
    api = await startApi('pglite', { ADMIN_EMAIL: OWNER.email, ADMIN_PASSWORD: OWNER.password, ADMIN_CONSOLE_DIR: consoleDir });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' })).newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  async function signIn(who: { email: string; password: string }) {
    await page.goto(`${api.url}/admin/`);
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Overview').waitFor();
  }

  /** An active, paid hobby subscription whose order an operator then overrides to `to`. */
  async function activePlanOverriddenTo(to: 'refunded' | 'needs_review', suffix: string) {
    const userId = `user_truth_${suffix}`;
    const order = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const built = buildLifecycle('renewals', { orderId: order.id, userId, suffix: `truth_${suffix}`, t0: T0, checkoutSessionId: order.checkout_session_id!, renewals: 1 });
    for (const e of built.events) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    const operator = await adminClient(api, `op_truth_${suffix}`);
    await operator.admin.orders.override.mutate({ orderId: order.id, to, reason: `checking the plan the console shows (${suffix})` });
    // The entitlement gives no plan: that is what the console must say.
    expect(await trpcClient(api.url, await userToken(userId)).entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'active' });
    return { order, subscriptionId: built.subscriptionId, userId };
  }

  it('an active subscription whose order an operator refunded or parked is not shown as a granted plan', { timeout: 120_000 }, async () => {
    const refunded = await activePlanOverriddenTo('refunded', 'refunded');
    const parked = await activePlanOverriddenTo('needs_review', 'parked');
    await signIn(OWNER);

    const statusHint = page.locator('.status-hint');
    for (const { sub, badge, hint } of [
      { sub: refunded, badge: 'money back', hint: 'Its order is refunded: plan taken' },
      { sub: parked, badge: 'no plan', hint: 'Its order is parked for review: no plan until an admin confirms it' },
    ]) {
      await page.goto(`${api.url}/admin/subscriptions?user=${encodeURIComponent(sub.userId)}`);
      await heading('Subscriptions').waitFor();
      const row = page.getByRole('row').filter({ hasText: sub.subscriptionId });
      await row.getByText('Active', { exact: true }).waitFor();
      await row.getByText(badge, { exact: true }).waitFor({ timeout: 5_000 });

      await row.getByRole('link', { name: sub.subscriptionId }).click();
      await heading(`Subscription ${sub.subscriptionId}`).waitFor();
      await statusHint.getByText(hint).waitFor({ timeout: 5_000 });
      expect(await statusHint.textContent()).not.toContain('plan granted');

      // The plan order's subscription panel says the same.
      await page.goto(`${api.url}/admin/orders/${sub.order.id}`);
      await page.getByRole('heading', { name: 'Subscription', exact: true }).waitFor();
      const facts = page.locator('dl.facts').filter({ hasText: sub.subscriptionId });
      await facts.getByText(hint).waitFor({ timeout: 5_000 });
      expect(await page.locator('main').textContent()).not.toContain('plan granted');
    }
    expect(pageErrors).toEqual([]);
  });

  it('a viewer or an operator opening an owner page is told it needs the owner role, not that it does not exist', { timeout: 120_000 }, async () => {
    const owner = await adminClient(api, 'owner_truth_roles', 'owner');
    for (const role of ['viewer', 'operator'] as const) {
      const who = { email: `${role}.truth@settle.test`, password: `${role}-password-1234` };
      await owner.admin.users.create.mutate({ ...who, role, reason: 'checking what the console says to a lower role' });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
      page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await signIn(who);
      expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).count()).toBe(0);

      await page.goto(`${api.url}/admin/accounts`);
      await heading('Accounts: owner role needed').waitFor({ timeout: 5_000 });
      const main = page.locator('main');
      expect(await main.textContent()).toContain(`you are signed in as ${who.email} with the ${role} role`);
      expect(await main.textContent()).not.toContain('Not found');
      // A page that really does not exist still says so.
      await page.goto(`${api.url}/admin/no-such-page`);
      await heading('Not found').waitFor();
      await context.close();
    }
    expect(pageErrors).toEqual([]);
  });
});
