/**
 * A newcomer's first run, in a real browser (Debian's Chromium through playwright-core): the
 * README's `pnpm dev` on a fresh PGlite folder, the console URL and development account read from
 * what it prints, and signing in there (through Vite's dev server and its proxy, not the built
 * console). Then an operator's day, driven by the offline simulator as the README's "Try it
 * offline" does: a payment whose confirmation was lost is found from the Overview and reconciled;
 * a payment whose processing failed is replayed from its order once fixed; and a partial refund's
 * dialog says what the product's refund policy takes back.
 *
 * Only time is compressed: retries give up after two attempts, an async payment counts as overdue
 * at once, and the scheduled reconciler is off so that the operator is the one who reconciles.
 * With UPDATE_DOCS_SCREENSHOTS=1 the new views' screenshots are copied to docs/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SCREENSHOTS = resolve(ROOT, 'apps/admin/test-results/first-run');
const PNPM = ['-y', 'pnpm@12.4.2'];

// CI installs Chromium (.ci/needs-chromium) and must run this; elsewhere, no Chromium means skip.
const skip = !existsSync(CHROMIUM) && !process.env.CI;

/** A free TCP port on 127.0.0.1 (and, with `alsoFree`, that port plus an offset free too). */
async function freePort(alsoFreeAt = 0): Promise<number> {
  const probe = (port: number) =>
    new Promise<number | null>((done) => {
      const server = createServer();
      server.once('error', () => done(null));
      server.listen(port, '127.0.0.1', () => {
        const { port: bound } = server.address() as { port: number };
        server.close(() => done(bound));
      });
    });
  for (let i = 0; i < 50; i++) {
    const port = await probe(0);
    if (port === null || port + alsoFreeAt > 65_535) continue;
    if (alsoFreeAt === 0 || (await probe(port + alsoFreeAt)) !== null) return port;
  }
  throw new Error('no free port');
}

/** Every live descendant of a process (turbo starts its tasks in process groups of their own). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …"; comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

const signal = (pids: number[], sig: NodeJS.Signals) => {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
};

describe.skipIf(skip)('a first run through pnpm dev, in Chromium', () => {
  let dev: ChildProcess;
  let output = '';
  let dataDir: string;
  let browser: Browser;
  let page: Page;
  let apiPort: number;
  let simulatorUrl: string;
  const pageErrors: string[] = [];

  const env = (extra: Record<string, string> = {}) => {
    // A newcomer's shell: none of the test runner's settings (DATABASE_URL in CI, NODE_ENV=test).
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|NODE_ENV|VITEST.*|STRIPE_.*|ADMIN_.*|PGLITE_DIR|PORT|CONSOLE_PORT|USER_JWT_SECRET|UNLEASH_.*|TEST_.*)$/.test(k)),
    );
    return { ...clean, ...extra };
  };

  /** A root script as the README runs it (`pnpm simulate …`, `pnpm dev-token …`); its output. */
  const pnpm = (...args: string[]) =>
    new Promise<string>((done, fail) => {
      const child = spawn('npx', [...PNPM, ...args], { cwd: ROOT, env: env() });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => (code === 0 ? done(out) : fail(new Error(`pnpm ${args.join(' ')} exited ${code}:\n${out}`))));
    });
  const simulate = (...args: string[]) => pnpm('simulate', ...args, '--api', simulatorUrl);

  /** An order through Settle's own checkout, as the README's curl does with a `pnpm dev-token` JWT. */
  async function checkout(userId: string): Promise<string> {
    const token = (await pnpm('dev-token', userId)).trim().split('\n').at(-1)!;
    const res = await fetch(`http://127.0.0.1:${apiPort}/trpc/checkout.create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ productId: 'credits10' }),
    });
    const body = (await res.json()) as { result?: { data: { orderId: string; checkoutSessionId: string } } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.result!.data.checkoutSessionId;
  }

  async function orderOfSession(sessionId: string): Promise<string> {
    const res = (await (await fetch(`${simulatorUrl}/_sim/sessions`)).json()) as { sessions: { id: string; order_id: string }[] };
    return res.sessions.find((s) => s.id === sessionId)!.order_id;
  }

  const screenshot = async (name: string, docs?: string, fullPage = true) => {
    const file = join(SCREENSHOTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage });
    if (docs && process.env.UPDATE_DOCS_SCREENSHOTS) copyFileSync(file, resolve(ROOT, 'docs', docs));
  };

  beforeAll(async () => {
    rmSync(SCREENSHOTS, { recursive: true, force: true });
    mkdirSync(SCREENSHOTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'settle-first-run-'));
    apiPort = await freePort(2173);
    const simulatorPort = await freePort();
    simulatorUrl = `http://127.0.0.1:${simulatorPort}`;
    // The README's first command, in its own process group so that everything it starts is stopped after.
    dev = spawn('npx', [...PNPM, 'dev'], {
      cwd: ROOT,
      detached: true,
      env: env({
        PORT: String(apiPort),
        STRIPE_SIMULATOR_PORT: String(simulatorPort),
        PGLITE_DIR: join(dataDir, 'pglite'),
        RETRY_MAX_ATTEMPTS: '2',
        RETRY_BASE_MS: '50',
        RETRY_MAX_MS: '100',
        RECONCILE_INTERVAL_MS: '0',
        RECONCILE_PROCESSING_AFTER_MIN: '0',
        LOG_LEVEL: 'warn',
      }),
    });
    dev.stdout!.on('data', (d) => (output += d));
    dev.stderr!.on('data', (d) => (output += d));

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (dev?.pid) {
      // Stop pnpm dev as Ctrl-C would, then make sure nothing it started (API, Vite, simulator) outlives the test.
      const tree = [dev.pid, ...descendants(dev.pid)];
      signal(tree, 'SIGINT');
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && tree.some((pid) => existsSync(`/proc/${pid}`))) await new Promise((done) => setTimeout(done, 200));
      signal(tree, 'SIGKILL');
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    console.log(`first-run screenshots: ${SCREENSHOTS}`);
  });

  it('signs in at the printed URL with the printed account, reconciles a lost payment, replays a failed one from its order, and refunds part', { timeout: 420_000 }, async () => {
    // What pnpm dev prints, on their own lines.
    await expect.poll(() => /Sign in: +\S+/.test(output), { timeout: 180_000, interval: 500 }).toBe(true);
    const apiUrl = /API: +(http\S+)/.exec(output)?.[1];
    const consoleUrl = /Console: +(http\S+)/.exec(output)?.[1];
    const account = /Sign in: +(\S+) \/ (\S+)/.exec(output);
    expect(apiUrl).toBe(`http://localhost:${apiPort}`);
    expect(consoleUrl).toBe(`http://localhost:${apiPort + 2173}/admin/`);
    expect(account).not.toBeNull();
    const [, email, password] = account!;

    // Two payments from the simulator: one whose confirmation is lost (stuck processing), one whose processing fails.
    const lostSession = await checkout('user_first_run_lost');
    await simulate('async_success', '--session', lostSession, '--drop', 'payment_intent.succeeded', '--drop', 'checkout.session.async_payment_succeeded');
    const lost = await orderOfSession(lostSession);
    const failingSession = await checkout('user_first_run_failing');
    await simulate('card_success', '--session', failingSession, '--fail', 'payment_intent.succeeded');
    const failing = await orderOfSession(failingSession);

    // Vite's dev server compiles on first request; wait for it to answer.
    await expect.poll(async () => (await fetch(consoleUrl!).catch(() => null))?.status ?? 0, { timeout: 120_000, interval: 500 }).toBe(200);
    await page.goto(consoleUrl!);
    await page.getByLabel('Email').fill(email!);
    await page.getByLabel('Password').fill(password!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor({ timeout: 60_000 });
    await page.getByRole('link', { name: /Needs an operator\s*\d/ }).waitFor({ timeout: 30_000 });
    await screenshot('01-overview', 'console-overview.png');

    // From the Overview to what needs an operator, oldest first, and into the stuck payment.
    await page.getByRole('link', { name: /Needs an operator/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Needs attention' }).waitFor();
    const operatorTable = page.getByRole('region', { name: /Needs an operator/ });
    await operatorTable.getByRole('link', { name: `Order ${lost}` }).waitFor({ timeout: 30_000 });
    await expect.poll(() => operatorTable.getByRole('row').filter({ hasText: 'Async payment overdue' }).count()).toBeGreaterThan(0);
    await operatorTable.getByRole('link', { name: `Order ${failing}` }).first().waitFor({ timeout: 30_000 });
    await screenshot('02-needs-attention', 'console-needs-attention.png');
    await operatorTable.getByRole('link', { name: `Order ${lost}` }).click();
    await page.getByRole('heading', { level: 1, name: `Order ${lost.slice(0, 8)}…` }).waitFor();
    await page.getByRole('button', { name: 'Reconcile now' }).click();
    await page.getByRole('status').filter({ hasText: 'Updated from Stripe: the order is now Succeeded' }).waitFor({ timeout: 30_000 });

    // The failed payment's order shows its dead letter; fix the cause (the simulator's mark) and replay it from there.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Needs attention', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Needs attention' }).waitFor();
    await expect.poll(() => page.getByRole('link', { name: `Order ${lost}` }).count(), { timeout: 30_000 }).toBe(0);
    await page.getByRole('region', { name: /Needs an operator/ }).getByRole('row').filter({ hasText: 'Dead letter' }).getByRole('link', { name: `Order ${failing}` }).first().click();
    await page.getByRole('heading', { level: 1, name: `Order ${failing.slice(0, 8)}…` }).waitFor();
    const incident = page.getByRole('alert').filter({ hasText: 'needs attention' });
    await incident.waitFor();
    expect(await incident.textContent()).toContain('payment_intent.succeeded is dead after 2 failed attempts');
    await simulate('fix');
    await page.getByRole('button', { name: /^Replay event evt_/ }).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason (required)').fill('simulator fault fixed (first run)');
    await dialog.getByRole('button', { name: 'Replay event' }).click();
    await dialog.getByRole('status').filter({ hasText: 'back in the queue' }).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.locator('.page-header').getByText('Succeeded').waitFor({ timeout: 30_000 });
    await page.getByText('Replayed').first().waitFor();
    await page.getByText('“simulator fault fixed (first run)”').waitFor();
    expect(await page.getByRole('list', { name: /^Failed attempts of evt_/ }).first().getByRole('listitem').count()).toBe(2);
    await screenshot('03-order-replayed', 'console-order-replayed.png');

    // A partial refund: the dialog says what the product's policy takes back (credits in proportion).
    await page.getByLabel('Amount (USD)').fill('4.00');
    await page.locator('#refund-reason').fill('goodwill: half a pack unused');
    await page.getByRole('button', { name: 'Review refund…' }).click();
    const refund = page.getByRole('dialog');
    await refund.getByText('Takes back 4 of the 10 credits, in proportion to the amount refunded').waitFor();
    expect(await refund.textContent()).not.toContain('keeps the grant');
    await screenshot('04-refund-dialog', 'console-refund-dialog.png', false);
    await refund.getByRole('button', { name: 'Refund $4.00' }).click();
    const accepted = page.getByRole('status').filter({ hasText: /Refund re_\S+ for \$4\.00/ });
    await accepted.waitFor({ timeout: 30_000 });
    const refundId = (await accepted.textContent())!.match(/re_\w+/)![0];
    // Stripe's webhooks move the order a moment later: the page shows it without a reload, in
    // seconds (it reads the order every second until the refund is on it, not every ten).
    const refunds = page.getByRole('region', { name: 'Refunds and duplicate payments' });
    await refunds.getByText(refundId).waitFor({ timeout: 6_000 });
    await page.locator('.page-header').getByText('Partially refunded').waitFor({ timeout: 6_000 });
    await page.getByText('Revoked 4 credits').waitFor({ timeout: 6_000 });

    expect(pageErrors).toEqual([]);
  });
});
