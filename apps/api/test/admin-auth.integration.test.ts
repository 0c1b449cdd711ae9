import { Writable } from 'node:stream';
import { createAdminToken, type AdminRole } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../src/trpc/root.js';
import { seedOrder, startApi, type TestApi } from './harness.js';

const OWNER = { email: 'owner@settle.test', password: 'owner-password-123' };
const CONSOLE_ORIGIN = 'http://console.settle.test';

type Call = { status: number; setCookie: string | null; data?: unknown; code?: string; message?: string };

/** One tRPC call over plain HTTP, as a browser would make it (cookie and Origin under the caller's control). */
async function call(
  api: TestApi,
  path: string,
  kind: 'query' | 'mutation',
  input: unknown,
  opts: { cookie?: string; origin?: string | null; referer?: string; bearer?: string } = {},
): Promise<Call> {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers.cookie = opts.cookie;
  const origin = opts.origin === undefined ? api.url : opts.origin;
  if (origin) headers.origin = origin;
  if (opts.referer) headers.referer = opts.referer;
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  const res =
    kind === 'query'
      ? await fetch(`${api.url}/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { headers })
      : await fetch(`${api.url}/trpc/${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(input ?? null) });
  const body = (await res.json()) as { result?: { data: unknown }; error?: { message: string; data: { code: string } } };
  return { status: res.status, setCookie: res.headers.get('set-cookie'), data: body.result?.data, code: body.error?.data.code, message: body.error?.message };
}

async function login(api: TestApi, email: string, password: string): Promise<string> {
  const r = await call(api, 'auth.login', 'mutation', { email, password });
  expect(r.code, r.message).toBeUndefined();
  const cookie = r.setCookie?.split(';')[0];
  expect(cookie).toMatch(/^settle_admin=/);
  return cookie!;
}

/**
 * The least role each admin procedure needs. Queries default to viewer and mutations to operator;
 * owner-only procedures are listed. A new procedure is covered automatically by the default.
 */
const OWNER_ONLY = new Set(['admin.users.list', 'admin.users.create', 'admin.users.disable', 'admin.users.enable', 'admin.users.resetPassword', 'admin.flags.set', 'admin.tokens.list', 'admin.tokens.create', 'admin.tokens.revoke']);
const BELOW: Record<AdminRole, AdminRole | null> = { viewer: null, operator: 'viewer', owner: 'operator' };

function adminProcedures(): { path: string; kind: 'query' | 'mutation'; role: AdminRole }[] {
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: 'query' | 'mutation' | 'subscription' } }>;
  return Object.entries(procedures)
    .filter(([path, p]) => (path.startsWith('admin.') || path === 'auth.me') && p._def.type !== 'subscription')
    .map(([path, p]) => {
      const kind = p._def.type as 'query' | 'mutation';
      return { path, kind, role: OWNER_ONLY.has(path) ? 'owner' : kind === 'query' ? 'viewer' : 'operator' };
    });
}

describe.each(TEST_BACKENDS)('admin authentication and roles on %s', (kind) => {
  let api: TestApi;
  const cookies = {} as Record<AdminRole, string>;

  beforeAll(async () => {
    api = await startApi(kind, { ADMIN_EMAIL: OWNER.email, ADMIN_PASSWORD: OWNER.password, ADMIN_ORIGINS: CONSOLE_ORIGIN, ADMIN_SESSION_HOURS: '8' });
    cookies.owner = await login(api, OWNER.email, OWNER.password);
    for (const role of ['viewer', 'operator'] as const) {
      const created = await call(api, 'admin.users.create', 'mutation', { email: `${role}@settle.test`, password: `${role}-password-123`, role, reason: 'on-call rota' }, { cookie: cookies.owner });
      expect(created.code, created.message).toBeUndefined();
      cookies[role] = await login(api, `${role}@settle.test`, `${role}-password-123`);
    }
  });
  afterAll(async () => {
    await api?.close();
  });

  it('creates the first owner from ADMIN_EMAIL once, with a scrypt hash, and audits it', async () => {
    const owner = await api.db.selectFrom('admin_users').selectAll().where('email', '=', OWNER.email).executeTakeFirstOrThrow();
    expect(owner.role).toBe('owner');
    expect(owner.password_hash).toMatch(/^scrypt\$/);
    expect(owner.password_hash).not.toContain(OWNER.password);
    const boot = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'users.bootstrap').execute();
    expect(boot).toHaveLength(1);
  });

  it('sets an httpOnly, SameSite=Strict session cookie with an expiry, and stores only its hash', async () => {
    const r = await call(api, 'auth.login', 'mutation', OWNER);
    expect(r.setCookie).toMatch(/HttpOnly/i);
    expect(r.setCookie).toMatch(/SameSite=Strict/i);
    expect(r.setCookie).toMatch(/Path=\//);
    expect(r.setCookie).toMatch(/Max-Age=28800/);
    expect(r.setCookie).not.toMatch(/Secure/); // NODE_ENV=test; production adds Secure
    const sessionId = decodeURIComponent(r.setCookie!.split(';')[0]!.split('=')[1]!);
    const stored = await api.db.selectFrom('admin_sessions').select('id_hash').execute();
    expect(stored.map((s) => s.id_hash)).not.toContain(sessionId);
    const me = await call(api, 'auth.me', 'query', undefined, { cookie: r.setCookie!.split(';')[0] });
    expect(me.data).toMatchObject({ actor: `admin:${OWNER.email}`, role: 'owner', via: 'session', email: OWNER.email });
  });

  it('refuses a wrong password and an unknown email alike', async () => {
    for (const creds of [{ ...OWNER, password: 'wrong-password-1' }, { email: 'nobody@settle.test', password: 'whatever-123' }]) {
      const r = await call(api, 'auth.login', 'mutation', creds);
      expect(r.code).toBe('UNAUTHORIZED');
      expect(r.message).toBe('email or password is wrong');
      expect(r.setCookie).toBeNull();
    }
  });

  it('rate-limits failed logins per IP and email: the sixth try in 15 minutes is refused, even with the right password', async () => {
    const email = 'limited@settle.test';
    await call(api, 'admin.users.create', 'mutation', { email, password: 'limited-password-1', role: 'viewer', reason: 'rate limit test' }, { cookie: cookies.owner });
    for (let i = 0; i < 5; i++) expect((await call(api, 'auth.login', 'mutation', { email, password: `bad-${i}` })).code).toBe('UNAUTHORIZED');
    const sixth = await call(api, 'auth.login', 'mutation', { email, password: 'limited-password-1' });
    expect(sixth.code).toBe('TOO_MANY_REQUESTS');
    expect(sixth.status).toBe(429);
    // Another account from the same address is not affected.
    expect((await call(api, 'auth.login', 'mutation', OWNER)).code).toBeUndefined();
  });

  it('every admin procedure refuses without a session (UNAUTHORIZED) and with a too-low role (FORBIDDEN)', async () => {
    const procedures = adminProcedures();
    expect(procedures.map((p) => p.path)).toEqual(expect.arrayContaining(['admin.orders.override', 'admin.events.replay', 'admin.users.create', 'admin.audit.list', 'auth.me']));
    for (const p of procedures) {
      const anonymous = await call(api, p.path, p.kind, {});
      expect(anonymous.code, `${p.path} without a session`).toBe('UNAUTHORIZED');
      const badCookie = await call(api, p.path, p.kind, {}, { cookie: 'settle_admin=forged-session-id-0123456789abcdef' });
      expect(badCookie.code, `${p.path} with a forged cookie`).toBe('UNAUTHORIZED');
      const below = BELOW[p.role];
      if (below) {
        const low = await call(api, p.path, p.kind, {}, { cookie: cookies[below] });
        expect(low.code, `${p.path} as ${below}`).toBe('FORBIDDEN');
        expect(low.message).toMatch(/role/);
      }
      const enough = await call(api, p.path, p.kind, {}, { cookie: cookies[p.role] });
      expect(['UNAUTHORIZED', 'FORBIDDEN'], `${p.path} as ${p.role}: ${enough.message}`).not.toContain(enough.code);
    }
  });

  it('refuses cookie-authenticated mutations from another origin or with no origin (CSRF); tokens are exempt', async () => {
    const order = await seedOrder(api.db);
    const input = { orderId: order.id, to: 'canceled', reason: 'csrf probe' };
    for (const origin of [null, 'https://evil.example', `${api.url}.evil.example`]) {
      const r = await call(api, 'admin.orders.override', 'mutation', input, { cookie: cookies.operator, origin });
      expect(r.code, String(origin)).toBe('FORBIDDEN');
      expect(r.message).toMatch(/cross-origin/);
    }
    expect((await call(api, 'auth.login', 'mutation', OWNER, { origin: 'https://evil.example' })).code).toBe('FORBIDDEN');
    expect((await call(api, 'auth.logout', 'mutation', undefined, { cookie: cookies.viewer, origin: 'https://evil.example' })).code).toBe('FORBIDDEN');
    expect((await api.db.selectFrom('orders').select('status').where('id', '=', order.id).executeTakeFirstOrThrow()).status).toBe('pending');

    // Reads need no origin; a Referer from the console or a configured console origin passes.
    expect((await call(api, 'admin.orders.get', 'query', { orderId: order.id }, { cookie: cookies.operator, origin: null })).code).toBeUndefined();
    const viaReferer = await call(api, 'admin.events.replay', 'mutation', { eventId: 'evt_missing', reason: 'probe' }, { cookie: cookies.operator, origin: null, referer: `${api.url}/admin/events` });
    expect(viaReferer.code).toBe('NOT_FOUND');
    const viaConsole = await call(api, 'admin.events.replay', 'mutation', { eventId: 'evt_missing', reason: 'probe' }, { cookie: cookies.operator, origin: CONSOLE_ORIGIN });
    expect(viaConsole.code).toBe('NOT_FOUND');

    const { token } = await createAdminToken(api.db, { name: 'csrf-bot', role: 'operator', createdBy: 'test' });
    const viaToken = await call(api, 'admin.events.replay', 'mutation', { eventId: 'evt_missing', reason: 'probe' }, { bearer: token, origin: null });
    expect(viaToken.code).toBe('NOT_FOUND');
  });

  it('refuses an override without a reason, and audits an override with one', async () => {
    const order = await seedOrder(api.db);
    for (const reason of [undefined, '', '  ']) {
      const r = await call(api, 'admin.orders.override', 'mutation', { orderId: order.id, to: 'canceled', reason }, { cookie: cookies.operator });
      expect(r.code).toBe('BAD_REQUEST');
    }
    const ok = await call(api, 'admin.orders.override', 'mutation', { orderId: order.id, to: 'canceled', reason: 'customer asked to cancel' }, { cookie: cookies.operator });
    expect(ok.code, ok.message).toBeUndefined();
    const audit = await api.db.selectFrom('admin_audit').selectAll().where('target', '=', `order:${order.id}`).execute();
    expect(audit.map((a) => [a.actor, a.action, a.reason])).toEqual([['admin:operator@settle.test', 'orders.override', 'customer asked to cancel']]);
    expect(audit[0]!.created_at).toBeInstanceOf(Date);
    const transition = await api.db.selectFrom('order_transitions').selectAll().where('order_id', '=', order.id).executeTakeFirstOrThrow();
    expect(transition).toMatchObject({ cause: 'admin', actor: 'admin:operator@settle.test', reason: 'customer asked to cancel' });
  });

  it('audits sign-in, account changes and replays, and lists the log with filters and keyset pages', async () => {
    const replay = await call(api, 'admin.events.replay', 'mutation', { deadSince: new Date(Date.now() - 60_000).toISOString(), reason: 'after deploy 4.2' }, { cookie: cookies.operator });
    expect(replay.code, replay.message).toBeUndefined();
    const list = async (input: Record<string, unknown>) => (await call(api, 'admin.audit.list', 'query', input, { cookie: cookies.viewer })).data as {
      items: { id: number; actor: string; action: string; target: string | null; reason: string | null; at: string }[];
      nextCursor: string | null;
    };
    const replays = await list({ action: 'events.replay_dead' });
    expect(replays.items).toEqual([expect.objectContaining({ actor: 'admin:operator@settle.test', reason: 'after deploy 4.2' })]);
    const creates = await list({ action: 'users.create', actor: `admin:${OWNER.email}` });
    expect(creates.items.map((i) => i.target)).toEqual(expect.arrayContaining(['admin:viewer@settle.test', 'admin:operator@settle.test']));
    expect(creates.items.every((i) => i.reason && i.at)).toBe(true);
    expect((await list({ action: 'auth.' })).items.some((i) => i.action === 'auth.login' && i.actor === 'admin:viewer@settle.test')).toBe(true);
    // A value pasted without its kind (an e-mail, an order id copied from its page) finds the same rows.
    expect((await list({ action: 'users.create', actor: OWNER.email })).items.map((i) => i.id)).toEqual(creates.items.map((i) => i.id));
    expect((await list({ target: 'viewer@settle.test', action: 'users.create' })).items.map((i) => i.target)).toEqual(['admin:viewer@settle.test']);
    expect((await list({ target: 'settle.test' })).items).toEqual([]);

    const all: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof list>> = await list({ limit: 2, cursor });
      all.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor);
    const total = await api.db.selectFrom('admin_audit').select(({ fn }) => fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(all).toHaveLength(Number(total.n));
    expect([...all].sort((a, b) => b - a)).toEqual(all);
  });

  it('lets an owner disable an account, which ends its sessions at once and audits it', async () => {
    const email = 'leaver@settle.test';
    await call(api, 'admin.users.create', 'mutation', { email, password: 'leaver-password-1', role: 'operator', reason: 'temp contractor' }, { cookie: cookies.owner });
    const cookie = await login(api, email, 'leaver-password-1');
    expect((await call(api, 'auth.me', 'query', undefined, { cookie })).code).toBeUndefined();
    expect((await call(api, 'admin.users.disable', 'mutation', { email: OWNER.email, reason: 'oops' }, { cookie: cookies.owner })).code).toBe('BAD_REQUEST');
    // Nor through the owner's own API token (a script's): the only owner would be locked out for good.
    const minted = await call(api, 'admin.tokens.create', 'mutation', { name: 'owner-script', role: 'owner', reason: 'automation' }, { cookie: cookies.owner });
    const ownToken = (minted.data as { token: string }).token;
    expect((await call(api, 'admin.users.disable', 'mutation', { email: OWNER.email, reason: 'cleanup script' }, { bearer: ownToken, origin: null })).code).toBe('BAD_REQUEST');
    expect((await call(api, 'auth.me', 'query', undefined, { cookie: cookies.owner })).code).toBeUndefined();
    expect((await call(api, 'admin.tokens.revoke', 'mutation', { name: 'owner-script', reason: 'test done' }, { cookie: cookies.owner })).code).toBeUndefined();
    const r = await call(api, 'admin.users.disable', 'mutation', { email, reason: 'contract ended' }, { cookie: cookies.owner });
    expect(r.code, r.message).toBeUndefined();
    expect((await call(api, 'auth.me', 'query', undefined, { cookie })).code).toBe('UNAUTHORIZED');
    expect((await call(api, 'auth.login', 'mutation', { email, password: 'leaver-password-1' })).code).toBe('UNAUTHORIZED');
    const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'users.disable').executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ actor: `admin:${OWNER.email}`, target: `admin:${email}`, reason: 'contract ended' });
  });

  it('lets an owner enable a disabled account and reset a password, ending the old sessions; both audited', async () => {
    const email = 'returner@settle.test';
    await call(api, 'admin.users.create', 'mutation', { email, password: 'returner-password-1', role: 'viewer', reason: 'analyst' }, { cookie: cookies.owner });
    expect((await call(api, 'admin.users.enable', 'mutation', { email, reason: 'not disabled' }, { cookie: cookies.owner })).code).toBe('NOT_FOUND');
    await call(api, 'admin.users.disable', 'mutation', { email, reason: 'parental leave' }, { cookie: cookies.owner });
    const enabled = await call(api, 'admin.users.enable', 'mutation', { email, reason: 'back from leave' }, { cookie: cookies.owner });
    expect(enabled.code, enabled.message).toBeUndefined();
    expect(enabled.data).toMatchObject({ email, role: 'viewer', disabledAt: null });
    const old = await login(api, email, 'returner-password-1');

    expect((await call(api, 'admin.users.resetPassword', 'mutation', { email, password: 'short', reason: 'forgot it' }, { cookie: cookies.owner })).code).toBe('BAD_REQUEST');
    const reset = await call(api, 'admin.users.resetPassword', 'mutation', { email, password: 'a-new-long-password-2', reason: 'forgot it (ticket 12)' }, { cookie: cookies.owner });
    expect(reset.code, reset.message).toBeUndefined();
    expect((await call(api, 'auth.me', 'query', undefined, { cookie: old })).code).toBe('UNAUTHORIZED');
    expect((await call(api, 'auth.login', 'mutation', { email, password: 'returner-password-1' })).code).toBe('UNAUTHORIZED');
    await login(api, email, 'a-new-long-password-2');
    expect((await call(api, 'admin.users.resetPassword', 'mutation', { email: 'nobody@settle.test', password: 'a-new-long-password-2', reason: 'typo' }, { cookie: cookies.owner })).code).toBe('NOT_FOUND');

    const audit = await api.db.selectFrom('admin_audit').select(['action', 'actor', 'reason', 'details']).where('target', '=', `admin:${email}`).where('action', 'like', 'users.%').orderBy('id').execute();
    expect(audit.map((a) => [a.action, a.reason])).toEqual([
      ['users.create', 'analyst'],
      ['users.disable', 'parental leave'],
      ['users.enable', 'back from leave'],
      ['users.reset_password', 'forgot it (ticket 12)'],
    ]);
    expect(JSON.stringify(audit)).not.toContain('a-new-long-password-2');
  });

  it('logs out: the session is deleted, the cookie cleared, and the old cookie refused', async () => {
    const cookie = await login(api, 'viewer@settle.test', 'viewer-password-123');
    const out = await call(api, 'auth.logout', 'mutation', undefined, { cookie });
    expect(out.code).toBeUndefined();
    expect(out.setCookie).toMatch(/settle_admin=;/);
    expect((await call(api, 'auth.me', 'query', undefined, { cookie })).code).toBe('UNAUTHORIZED');
    const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'auth.logout').execute();
    expect(audit.map((a) => a.actor)).toContain('admin:viewer@settle.test');
  });

  it('refuses an expired session', async () => {
    const cookie = await login(api, 'viewer@settle.test', 'viewer-password-123');
    await api.db.updateTable('admin_sessions').set({ expires_at: new Date(Date.now() - 1000) }).execute();
    expect((await call(api, 'auth.me', 'query', undefined, { cookie })).code).toBe('UNAUTHORIZED');
  });
});

describe('a first start with no admin account to sign in with', () => {
  /** The API's warnings and errors at start-up, with the given settings. */
  async function startupWarnings(env: Record<string, string>): Promise<string[]> {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const api = await startApi('pglite', env, { logger: pino({ level: 'warn' }, sink) });
    await api.close();
    return lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
  }

  it('says how to create the first owner, when neither ADMIN_EMAIL nor ADMIN_PASSWORD is set', async () => {
    const warnings = await startupWarnings({});
    expect(warnings.find((m) => /no admin account/.test(m))).toMatch(/ADMIN_EMAIL.*ADMIN_PASSWORD/);
  });

  it('names the missing half when only ADMIN_EMAIL is set', async () => {
    const warnings = await startupWarnings({ ADMIN_EMAIL: OWNER.email });
    expect(warnings.find((m) => /no admin account/.test(m))).toMatch(/ADMIN_PASSWORD is not set/);
  });

  it('says nothing once an owner is created', async () => {
    const warnings = await startupWarnings({ ADMIN_EMAIL: OWNER.email, ADMIN_PASSWORD: OWNER.password });
    expect(warnings.filter((m) => /no admin account/.test(m))).toEqual([]);
  });
});
