/**
 * The console in a real browser (Debian's Chromium driven by playwright-core, never a downloaded
 * browser) against a real API on PGlite that serves the freshly built console at /admin/.
 * An operator signs in, finds a stuck processing order, overrides it with a reason, sees the audit
 * entry, replays dead events (one, then a bulk replay with its progress bar), changes the rollout,
 * and signs out. Screenshots of every screen go to test-results/screenshots (path printed).
 * With UPDATE_DOCS_SCREENSHOTS=1 the order detail screenshot is also copied to docs/.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { event as stripeEvent, incidentJourneyEvents, journeyEvents } from '@settle/stripe-simulator';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLifecycle, seedOrder, send, startApi, waitForInbox, type TestApi } from '../../api/test/harness.js';
import { ADMIN_DIR, buildConsole, launchChromium, NO_BROWSER, SCREENSHOTS } from './browser-support.js';

const DOCS_SCREENSHOT = resolve(ADMIN_DIR, '../../docs/console-order-detail.png');
const OWNER = { email: 'owner@settle.test', password: 'correct-horse-battery-staple' };
const OVERRIDE_REASON = 'SEPA debit confirmed in the Stripe dashboard; webhook lost (INC-42)';

describe.skipIf(NO_BROWSER)('admin console in Chromium', () => {
  let api: TestApi;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let consoleDir: string;
  const faulty = new Set<string>();
  const pageErrors: string[] = [];
  let shot = 0;

  const screenshot = async (name: string, opts: { fullPage?: boolean } = {}) => {
    shot += 1;
    const file = join(SCREENSHOTS, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: opts.fullPage ?? true });
    return file;
  };
  const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });

  /** A payment_intent.succeeded that the handler fails on (while `faulty`), so it ends dead. */
  async function deadEvent(): Promise<{ orderId: string; eventId: string }> {
    const order = await seedOrder(api.db);
    const ev = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) })
      .find((e) => e.type === 'payment_intent.succeeded')!;
    faulty.add(ev.id);
    expect((await send(api, ev)).status).toBe(200);
    return { orderId: order.id, eventId: ev.id };
  }

  beforeAll(async () => {
    rmSync(SCREENSHOTS, { recursive: true, force: true });
    mkdirSync(SCREENSHOTS, { recursive: true });
    consoleDir = buildConsole();

    api = await startApi(
      'pglite',
      { ADMIN_EMAIL: OWNER.email, ADMIN_PASSWORD: OWNER.password, ADMIN_CONSOLE_DIR: consoleDir, RETRY_MAX_ATTEMPTS: '2', RETRY_BASE_MS: '10', RETRY_MAX_MS: '20' },
      {
        beforeApply: (event) => {
          if (faulty.has(event.id)) throw new Error('injected handler fault: ledger service unavailable');
        },
      },
    );
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    console.log(`console screenshots: ${SCREENSHOTS}`);
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
    console.log(`console screenshots: ${SCREENSHOTS}`);
  });

  it('serves the console at /admin/ with a SPA fallback and protective headers', async () => {
    const res = await fetch(`${api.url}/admin/orders/some-id`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(await res.text()).toContain('<div id="root">');
    expect((await fetch(`${api.url}/admin/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${api.url}/admin`, { redirect: 'manual' })).headers.get('location')).toBe('/admin/');
  });

  it('an operator signs in, fixes a stuck order, replays dead events, changes the rollout and signs out', { timeout: 240_000 }, async () => {
    // A stuck async payment: checkout completed unpaid (processing), then nothing for two hours.
    const stuck = await seedOrder(api.db, { amount: 995 });
    const journey = journeyEvents('async_success', { orderId: stuck.id, checkoutSessionId: stuck.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) - 7200 });
    await send(api, journey.find((e) => e.type === 'checkout.session.completed')!);
    await waitForInbox(api.db);
    await api.db.updateTable('orders').set({ updated_at: new Date(Date.now() - 2 * 3_600_000) }).where('id', '=', stuck.id).execute();
    expect((await api.db.selectFrom('orders').select('status').where('id', '=', stuck.id).executeTakeFirstOrThrow()).status).toBe('processing');
    // Noise: orders that are not stuck, and one dead event to replay by hand.
    for (let i = 0; i < 3; i++) await seedOrder(api.db);
    const dead = await deadEvent();
    await waitForInbox(api.db);

    // Sign in.
    await page.goto(`${api.url}/admin/`);
    await expect.poll(() => page.getByRole('heading', { name: /Settle console/ }).isVisible()).toBe(true);
    await screenshot('login');
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill('wrong-password-000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'do not match' }).waitFor();
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Overview').waitFor();
    await page.getByText('Orders by status').waitFor();
    await screenshot('overview');

    // Find the stuck processing order with the filters (its buyer's e-mail, as Checkout collected it, shows on it).
    await api.db.updateTable('orders').set({ customer_email: 'buyer.stuck@example.com' }).where('id', '=', stuck.id).execute();
    await nav('Orders');
    await heading('Orders').waitFor();
    await page.getByLabel('Status').selectOption('processing');
    await page.getByLabel('Stuck for more than (min)').fill('30');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.url()).toContain('stuck=30');
    const rows = page.locator('table tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    await screenshot('orders-stuck-filter');
    await page.getByRole('link', { name: `Order ${stuck.id}` }).click();

    // The order detail: timeline, then the override with its confirmation.
    await heading(`Order ${stuck.id.slice(0, 8)}…`).waitFor();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await page.getByText('checkout.session.completed').first().waitFor();
    await page.getByText('buyer.stuck@example.com').waitFor({ timeout: 5_000 });
    await screenshot('order-detail-stuck');
    await page.getByRole('button', { name: 'Review override…' }).click();
    await page.getByText('Choose the status to move to.').waitFor(); // nothing chosen yet: refused in place
    await page.getByLabel('New status').selectOption('succeeded');
    await page.getByRole('button', { name: 'Review override…' }).click();
    expect(await page.getByText('A reason of at least 3 characters is required.').isVisible()).toBe(true);
    await page.getByLabel('Reason (required)').first().fill(OVERRIDE_REASON);
    await page.getByRole('button', { name: 'Review override…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Override to Succeeded?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('changes from “Processing” to “Succeeded”');
    expect(await dialog.textContent()).toContain('granted');
    await screenshot('order-override-confirm', { fullPage: false });
    await dialog.getByRole('button', { name: 'Override to Succeeded' }).click();
    await page.getByRole('status').filter({ hasText: 'Order moved to Succeeded' }).waitFor();
    await page.locator('.timeline').getByText(OVERRIDE_REASON).waitFor();
    await page.keyboard.press('Home');
    const detailShot = await screenshot('order-detail');
    if (process.env.UPDATE_DOCS_SCREENSHOTS) copyFileSync(detailShot, DOCS_SCREENSHOT);
    const after = await api.db.selectFrom('orders').select('status').where('id', '=', stuck.id).executeTakeFirstOrThrow();
    expect(after.status).toBe('succeeded');
    expect(await api.db.selectFrom('grants').select('kind').where('order_id', '=', stuck.id).execute()).toHaveLength(1);

    // The audit log shows who did it, and why.
    await nav('Audit log');
    await heading('Audit log').waitFor();
    await page.getByLabel('Action').selectOption('orders.override');
    await page.getByRole('button', { name: 'Apply' }).click();
    const auditRow = page.locator('table tbody tr').filter({ hasText: OVERRIDE_REASON });
    await auditRow.waitFor();
    expect(await auditRow.textContent()).toContain(`admin:${OWNER.email}`);
    expect(await auditRow.textContent()).toContain('orders.override');
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator('table tbody tr').filter({ hasText: 'auth.login' }).first().waitFor();
    await screenshot('audit-log');

    // Replay the dead event once its cause is fixed.
    await nav('Events');
    await heading('Events').waitFor();
    const deadRow = page.locator('table tbody tr').filter({ hasText: dead.eventId });
    await deadRow.waitFor();
    expect(await deadRow.textContent()).toContain('injected handler fault');
    await deadRow.locator('summary').click();
    await page.getByText('#2').waitFor();
    await screenshot('events-dead');
    faulty.delete(dead.eventId);
    await page.getByRole('button', { name: `Replay event ${dead.eventId}` }).click();
    const replayDialog = page.getByRole('dialog');
    await replayDialog.getByLabel('Reason (required)').fill('ledger service back (INC-43)');
    await replayDialog.getByRole('button', { name: 'Replay event' }).click();
    await replayDialog.getByText('is back in the queue').waitFor();
    await replayDialog.getByRole('button', { name: 'Close' }).click();
    await waitForInbox(api.db);
    await expect.poll(async () => (await api.db.selectFrom('orders').select('status').where('id', '=', dead.orderId).executeTakeFirstOrThrow()).status).toBe('succeeded');
    await expect.poll(() => deadRow.count(), { timeout: 15_000 }).toBe(0);

    // A bulk replay of every dead event since a time, followed by its progress bar.
    const more = [await deadEvent(), await deadEvent(), await deadEvent()];
    await waitForInbox(api.db);
    await page.reload();
    await expect.poll(() => page.locator('table tbody tr').count(), { timeout: 15_000 }).toBe(3);
    for (const d of more) faulty.delete(d.eventId);
    await page.getByLabel('Reason (required)').fill('ledger fix deployed, replaying the backlog');
    await page.getByRole('button', { name: 'Replay dead since…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Replay all dead events' }).click();
    await page.getByText('Replay finished: 3 of 3').waitFor({ timeout: 30_000 });
    expect(await page.locator('progress').getAttribute('value')).toBe('3');
    await screenshot('events-bulk-replay');
    for (const d of more) expect((await api.db.selectFrom('stripe_events').select('state').where('id', '=', d.eventId).executeTakeFirstOrThrow()).state).toBe('processed');

    // Change the rollout: shadow at 25 %.
    await nav('Rollout');
    await heading('Rollout').waitFor();
    await page.getByRole('heading', { name: 'Shadow disagreement report' }).waitFor();
    await page.getByRole('radio', { name: /^Shadow/ }).check();
    await page.getByLabel('Rollout percent').fill('25');
    await page.getByLabel('Reason (required)').fill('new handler clean in staging, shadowing a quarter');
    await page.getByRole('button', { name: 'Review change…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Set shadow at 25 %' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved: shadow, 25 %' }).waitFor();
    await screenshot('rollout');
    const flagAudit = await api.db.selectFrom('admin_audit').selectAll().where('actor', '=', `admin:${OWNER.email}`).where('action', 'like', 'flags.%').execute();
    expect(flagAudit.map((a) => a.reason)).toContain('new handler clean in staging, shadowing a quarter');

    await nav('Accounts');
    await heading('Accounts').waitFor();
    await page.getByRole('cell', { name: OWNER.email, exact: true }).waitFor();
    await screenshot('accounts');
    // A leaver comes back: disable, enable again, and reset the password they forgot.
    const leaver = 'returning@settle.test';
    await page.getByLabel('Email').fill(leaver);
    await page.getByLabel('Initial password').fill('first-password-1234');
    await page.locator('#u-reason').fill('joins the on-call rota');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByRole('button', { name: `Disable ${leaver}` }).click();
    await page.getByRole('dialog').getByLabel('Reason (required)').fill('parental leave');
    await page.getByRole('dialog').getByRole('button', { name: 'Disable account' }).click();
    await page.getByRole('button', { name: `Enable ${leaver}` }).click();
    await page.getByRole('dialog').getByLabel('Reason (required)').fill('back from leave');
    await page.getByRole('dialog').getByRole('button', { name: 'Enable account' }).click();
    await page.getByRole('button', { name: `Disable ${leaver}` }).waitFor();
    await page.getByRole('button', { name: `Reset the password of ${leaver}` }).click();
    await page.getByRole('dialog').getByLabel('New password').fill('second-password-5678');
    await page.getByRole('dialog').getByLabel('Reason (required)').fill('forgot it (ticket 31)');
    await page.getByRole('dialog').getByRole('button', { name: 'Set new password' }).click();
    await expect.poll(() => page.getByRole('dialog').count(), { timeout: 20_000 }).toBe(0);
    const accountAudit = await api.db.selectFrom('admin_audit').select(['action', 'reason']).where('target', '=', `admin:${leaver}`).orderBy('id').execute();
    expect(accountAudit.map((a) => a.action)).toEqual(['users.create', 'users.disable', 'users.enable', 'users.reset_password']);

    // An order that does not exist says so, with no "Try again".
    await page.goto(`${api.url}/admin/orders/00000000-0000-4000-8000-000000000000`);
    await heading('Order not found').waitFor();
    expect(await page.getByRole('button', { name: 'Try again' }).count()).toBe(0);
    // Search finds part of an id; an overlong search cannot be typed.
    await page.goto(`${api.url}/admin/orders`);
    await page.getByLabel('Search').fill(stuck.id.slice(4, 14));
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByLabel('Search').fill('x'.repeat(5000));
    expect((await page.getByLabel('Search').inputValue()).length).toBe(200);

    // Phone width: the same screens, one column, navigation behind a menu button.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Menu' }).click();
    await nav('Overview');
    await heading('Overview').waitFor();
    await page.getByText('Orders by status').waitFor();
    await screenshot('phone-overview');
    await page.goto(`${api.url}/admin/orders/${stuck.id}`);
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await screenshot('phone-order-detail');
    await page.setViewportSize({ width: 1280, height: 900 });

    // Sign out, and be refused.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    await screenshot('signed-out');
    const refused = await page.evaluate(async () => {
      const r = await fetch('/trpc/admin.orders.list', { credentials: 'same-origin' });
      return { status: r.status, body: (await r.json()) as { error?: { data?: { code?: string } } } };
    });
    expect(refused.status).toBe(401);
    expect(refused.body.error?.data?.code).toBe('UNAUTHORIZED');
    await page.goto(`${api.url}/admin/orders`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.getByRole('table').count()).toBe(0);

    expect(pageErrors).toEqual([]);
  });

  it('shows subscriptions: the list, a timeline with its money, the plan order with its subscription, the Overview counts', { timeout: 120_000 }, async () => {
    const userId = 'user_console_plan';
    const order = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const built = buildLifecycle('dispute_lost', { orderId: order.id, userId, suffix: 'console', t0: Math.floor(Date.now() / 1000) - 90 * 86_400, checkoutSessionId: order.checkout_session_id! });
    for (const e of built.events) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);

    await page.goto(`${api.url}/admin/`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Overview').waitFor();
    await page.getByText('Subscriptions by status').waitFor();
    await page.getByText('Monthly recurring revenue by plan').waitFor();

    await nav('Subscriptions');
    await heading('Subscriptions').waitFor();
    const row = page.getByRole('row').filter({ hasText: built.subscriptionId });
    await row.getByText('money back').waitFor();
    await screenshot('subscriptions');
    await row.getByRole('link', { name: built.subscriptionId }).click();
    await heading(`Subscription ${built.subscriptionId}`).waitFor();
    await page.getByRole('heading', { name: 'Invoices and payments' }).waitFor();
    await page.getByText('dispute lost').waitFor();
    await page.getByText(/dispute dp_console lost/).waitFor();
    await screenshot('subscription-detail');

    await page.goto(`${api.url}/admin/orders/${order.id}`);
    await page.getByRole('heading', { name: 'Subscription', exact: true }).waitFor();
    await page.getByText(/First invoice paid\. The plan follows the subscription/).waitFor();
    await screenshot('plan-order-detail');
    expect(pageErrors).toEqual([]);
  });

  it('Needs attention names a duplicate payment and a subscription in review, says what to do, and links to them', { timeout: 120_000 }, async () => {
    const t0 = Math.floor(Date.now() / 1000) - 3_600;
    const paid = await seedOrder(api.db, { userId: 'user_console_charged_twice' });
    const charged = incidentJourneyEvents('duplicate_payment', { orderId: paid.id, checkoutSessionId: paid.checkout_session_id!, amount: 995, currency: 'usd', startAt: t0 });
    for (const e of charged.filter((x) => !x.type.startsWith('invoice.'))) expect((await send(api, e)).status).toBe(200);
    const userId = 'user_console_review';
    const plan = await seedOrder(api.db, { userId, productId: 'hobby', mode: 'subscription', amount: 999 });
    const review = buildLifecycle('unknown_price', { orderId: plan.id, userId, suffix: 'console_review', t0: t0 - 90 * 86_400, checkoutSessionId: plan.checkout_session_id! });
    for (const e of review.events) {
      expect((await send(api, e)).status).toBe(200);
      await waitForInbox(api.db);
    }
    await waitForInbox(api.db);

    await page.goto(`${api.url}/admin/`);
    await heading('Overview').waitFor();
    await nav('Needs attention');
    await heading('Needs attention').waitFor();
    const operator = page.getByRole('region', { name: /Needs an operator/ });
    const duplicateRow = operator.getByRole('row').filter({ hasText: 'Duplicate payment' });
    await duplicateRow.getByRole('link', { name: `Order ${paid.id}` }).waitFor({ timeout: 30_000 });
    await duplicateRow.getByText('refund the second payment by its PaymentIntent').waitFor();
    const reviewRow = operator.getByRole('row').filter({ hasText: 'Subscription in review' });
    await reviewRow.getByRole('link', { name: `Subscription ${review.subscriptionId}` }).waitFor();
    expect(await reviewRow.textContent()).toMatch(/is not in the catalogue; plan hobby kept/);
    await operator.getByText(/Duplicate payment \d+/).waitFor();
    await operator.getByText(/Subscription in review \d+/).waitFor();
    await screenshot('needs-attention-kinds');

    await reviewRow.getByRole('link', { name: `Subscription ${review.subscriptionId}` }).click();
    await heading(`Subscription ${review.subscriptionId}`).waitFor();
    await page.goBack();
    await duplicateRow.getByRole('link', { name: `Order ${paid.id}` }).click();
    await heading(`Order ${paid.id.slice(0, 8)}…`).waitFor();
    expect(pageErrors).toEqual([]);
  });

  describe('an order page that matches what the API does, and Needs attention that tells incidents apart', () => {
    const t0 = Math.floor(Date.now() / 1000) - 30 * 86_400;
    type Seeded = Awaited<ReturnType<typeof seedOrder>>;
    let chargedBack: Seeded, disputed: Seeded, parkedByCheck: Seeded, toPark: Seeded, twice: Seeded;
    let dead: { orderId: string; eventId: string };
    const parkReason = 'Customer says the credits never arrived; checking with support (T-77)';
    const refundCard = () => page.getByRole('region', { name: 'Refund', exact: true });
    const openOrder = async (id: string) => {
      await page.goto(`${api.url}/admin/orders/${id}`);
      await heading(`Order ${id.slice(0, 8)}…`).waitFor();
    };
    const reviewOverride = async (to: string, reason: string) => {
      await page.getByLabel('New status').selectOption({ label: to });
      await page.getByLabel('Reason (required)').first().fill(reason);
      await page.getByRole('button', { name: 'Review override…' }).click();
      const dialog = page.getByRole('dialog', { name: `Override to ${to}?` });
      await dialog.waitFor();
      return dialog;
    };
    const attentionRow = async (has: string) => {
      await page.goto(`${api.url}/admin/attention`);
      await heading('Needs attention').waitFor();
      const row = page.getByRole('region', { name: /Needs an operator/ }).getByRole('row').filter({ hasText: has });
      await row.waitFor();
      return row;
    };

    beforeAll(async () => {
      const paidWith = async (journey: Parameters<typeof journeyEvents>[0], o: { amount?: number; drop?: string } = {}) => {
        const order = await seedOrder(api.db);
        const events = journeyEvents(journey, { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: o.amount ?? 995, currency: 'usd', startAt: t0 });
        for (const e of events.filter((x) => x.type !== o.drop)) expect((await send(api, e)).status).toBe(200);
        return order;
      };
      chargedBack = await paidWith('dispute_lost');
      disputed = await paidWith('dispute_lost', { drop: 'charge.dispute.closed' });
      parkedByCheck = await paidWith('card_success', { amount: 500 });
      toPark = await paidWith('card_success');
      twice = await seedOrder(api.db);
      const charged = incidentJourneyEvents('duplicate_payment', { orderId: twice.id, checkoutSessionId: twice.checkout_session_id!, amount: 995, currency: 'usd', startAt: t0, idSuffix: 'settled' });
      for (const e of charged.filter((x) => !x.type.startsWith('invoice.'))) expect((await send(api, e)).status).toBe(200);
      await waitForInbox(api.db);
      const second = (await api.db.selectFrom('duplicate_payments').select('payment_intent_id').where('order_id', '=', twice.id).executeTakeFirstOrThrow()).payment_intent_id;
      const dupCharge = charged.find((e) => e.type === 'charge.succeeded' && (e.data.object as { payment_intent: string }).payment_intent === second)!.data.object as Record<string, unknown>;
      expect((await send(api, stripeEvent('charge.refunded', t0 + 600, { ...dupCharge, amount_refunded: 995, refunded: true }, 'settled_dup', { amount_refunded: 0, refunded: false }))).status).toBe(200);
      dead = await deadEvent();
      await waitForInbox(api.db);
      const statusOf = async (id: string) => (await api.db.selectFrom('orders').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
      expect([await statusOf(chargedBack.id), await statusOf(disputed.id), await statusOf(parkedByCheck.id)]).toEqual(['charged_back', 'disputed', 'needs_review']);

      await page.goto(`${api.url}/admin/`);
      // Signed in by an earlier test, or not (run alone).
      await page.getByRole('button', { name: 'Sign in' }).or(heading('Overview')).first().waitFor();
      if (await page.getByRole('button', { name: 'Sign in' }).isVisible()) {
        await page.getByLabel('Email').fill(OWNER.email);
        await page.getByLabel('Password').fill(OWNER.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
      }
      await heading('Overview').waitFor();
    });

    it('A: the override dialog says what moves: Succeeded gives back what the chargeback took; a take-back status takes what is still held', async () => {
      await openOrder(chargedBack.id);
      const restore = await reviewOverride('Succeeded', 'Dispute reversed by the bank (INC-51)');
      await restore.getByText('The 10 credits taken by the chargeback are given back').waitFor({ timeout: 5_000 });
      expect(await restore.textContent()).not.toContain('granted what the product gives');
      await screenshot('override-chargeback-to-succeeded', { fullPage: false });
      await restore.getByRole('button', { name: 'Cancel' }).click();
      const again = await reviewOverride('Refunded', 'Checking what a refund override does');
      await again.getByText('The 10 credits of this order were taken back already by the chargeback: nothing more moves.').waitFor({ timeout: 5_000 });
      await again.getByRole('button', { name: 'Cancel' }).click();
      await openOrder(disputed.id);
      const takes = await reviewOverride('Charged back', 'Dispute lost, webhook missing (INC-52)');
      await takes.getByText('The 10 credits still held from this order are taken back; nothing is given.').waitFor({ timeout: 5_000 });
      await takes.getByRole('button', { name: 'Cancel' }).click();
      expect(pageErrors).toEqual([]);
    });

    it('B: a disputed order is not offered a refund, and says why', async () => {
      await openOrder(disputed.id);
      await page.getByRole('heading', { name: 'Timeline' }).waitFor();
      expect(await refundCard().getByRole('button', { name: 'Review refund…' }).count()).toBe(0);
      await refundCard().getByText('cannot be refunded while the dispute is open').waitFor({ timeout: 5_000 });
      await screenshot('disputed-order');
    });

    it('C: a charged-back order says its money went back through the dispute', async () => {
      await openOrder(chargedBack.id);
      await refundCard().getByText('already went back to the customer through the dispute').waitFor({ timeout: 5_000 });
      expect(await refundCard().textContent()).not.toContain('Only a paid order');
    });

    it('D: a duplicate payment refunded in full no longer asks for a refund', async () => {
      await openOrder(twice.id);
      const incidents = page.getByRole('region', { name: 'Refunds and duplicate payments' });
      await incidents.getByText('$9.95 refunded').waitFor();
      expect(await incidents.textContent()).not.toContain('paid this order 2 times');
      expect(await incidents.getByRole('button', { name: 'Refund this payment…' }).count()).toBe(0);
      await screenshot('duplicate-refunded');
    });

    it('E: a dead letter whose order is known shows the order’s amount in Needs attention', async () => {
      const row = await attentionRow(dead.eventId);
      expect(await row.locator('td.num').textContent()).toBe('$9.95');
    });

    it('F: an order an admin parked reads as parked by that admin, with their reason; a failed check still reads as one', async () => {
      await openOrder(toPark.id);
      const park = await reviewOverride('Needs review', parkReason);
      await park.getByRole('button', { name: 'Override to Needs review' }).click();
      await page.getByRole('status').filter({ hasText: 'Order moved to Needs review' }).waitFor();
      const hint = page.locator('.status-hint');
      await hint.getByText(`Parked for review by an admin (admin:${OWNER.email}), by hand: “${parkReason}”`).waitFor({ timeout: 5_000 });
      expect(await hint.textContent()).not.toContain('business check failed');
      await screenshot('parked-by-admin', { fullPage: false });
      await openOrder(parkedByCheck.id);
      await page.locator('.status-hint').getByText(/A business check failed \(the amount paid is not the order’s\): paid 500/).waitFor({ timeout: 5_000 });
      const parkedRow = await attentionRow(parkReason);
      await parkedRow.getByText('An admin parked it by hand').waitFor({ timeout: 5_000 });
      expect(await parkedRow.textContent()).not.toContain('A business check failed');
      const checkRow = page.getByRole('region', { name: /Needs an operator/ }).getByRole('row').filter({ has: page.getByRole('link', { name: `Order ${parkedByCheck.id}` }) });
      expect(await checkRow.textContent()).toContain('A business check failed');
      await screenshot('needs-attention-dead-and-parked');
      expect(pageErrors).toEqual([]);
    });
  });
});
