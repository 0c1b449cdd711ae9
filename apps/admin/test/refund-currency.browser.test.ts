/**
 * The refund dialog in a real browser for an order in a zero-decimal currency (JPY): Stripe's
 * smallest unit for JPY is the yen itself, so an order of ¥100,000 has amount 100000, and an
 * operator's "500" is ¥500 (it was taken as hundredths and sent as ¥50,000).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { event } from '@settle/stripe-simulator';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOrder, send, startApi, waitForInbox, type TestApi } from '../../api/test/harness.js';
import { buildConsole, launchChromium, NO_BROWSER } from './browser-support.js';

const OWNER = { email: 'owner@settle.test', password: 'correct-horse-battery-staple' };

describe.skipIf(NO_BROWSER)('refunding a JPY order from the console', () => {
  let api: TestApi;
  let browser: Browser;
  let page: Page;
  let consoleDir: string;

  beforeAll(async () => {
    consoleDir = buildConsole();
    const dir = mkdtempSync(join(tmpdir(), 'settle-jpy-'));
    const products = join(dir, 'products.json');
    writeFileSync(products, JSON.stringify([
      { id: 'credits_jpy', name: 'Credits pack (JPY)', mode: 'payment', stripePriceId: null, amount: 100000, currency: 'jpy', grant: { credits: 100 }, partialRefund: 'proportional' },
    ]));
    api = await startApi('pglite', { ADMIN_EMAIL: OWNER.email, ADMIN_PASSWORD: OWNER.password, ADMIN_CONSOLE_DIR: consoleDir, PRODUCTS_FILE: products });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' })).newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  it('an operator who types 500 to refund ¥500 of a ¥100,000 order sends ¥500 to Stripe, not ¥50,000', { timeout: 120_000 }, async () => {
    const order = await seedOrder(api.db, { productId: 'credits_jpy', amount: 100000 });
    await api.db.updateTable('orders').set({ currency: 'jpy' }).where('id', '=', order.id).execute();
    const pi = `pi_${randomUUID().replaceAll('-', '')}`;
    const at = Math.floor(Date.now() / 1000) - 600;
    const paid = event('payment_intent.succeeded', at, { id: pi, object: 'payment_intent', amount: 100000, amount_received: 100000, currency: 'jpy', created: at, latest_charge: `ch_${pi.slice(3)}`, metadata: { orderId: order.id }, status: 'succeeded', last_payment_error: null }, '');
    expect((await send(api, paid)).status).toBe(200);
    await waitForInbox(api.db);

    await page.goto(`${api.url}/admin/`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.goto(`${api.url}/admin/orders/${order.id}`);
    await page.getByRole('heading', { name: 'Refund', exact: true }).waitFor();

    // What the order page says the customer paid.
    const main = (await page.locator('main').textContent()) ?? '';
    const shownPrice = main.includes('¥100,000') ? '¥100,000' : main.includes('¥1,000') ? '¥1,000' : 'neither';

    const form = page.getByRole('region', { name: 'Refund' });
    await form.getByLabel('Amount (JPY)').fill('500');
    await form.getByLabel('Reason (required)').fill('customer asked for ¥500 back (ticket 7)');
    await form.getByRole('button', { name: 'Review refund…' }).click();
    const dialog = page.getByRole('dialog').filter({ hasText: 'Money moves' });
    const title = (await dialog.getByRole('heading').first().textContent()) ?? '';
    const sent = page.waitForRequest((r) => r.url().includes('admin.orders.refund') && r.method() === 'POST');
    await dialog.getByRole('button', { name: /^Refund / }).click();
    const body = (await sent).postData() ?? '';
    const amount = Number(/"amount":(\d+)/.exec(body)?.[1]);

    expect({ title, amountSentToStripe: amount, shownPrice }).toEqual({ title: 'Refund ¥500?', amountSentToStripe: 500, shownPrice: '¥100,000' });
  });
});
