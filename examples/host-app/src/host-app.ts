/**
 * A host app connected to Settle, as small as it can be while doing the real work:
 *
 * - `POST /webhooks/settle` receives Settle's webhooks, verifies them with the `standardwebhooks`
 *   package, and mirrors the user's entitlements into the app's own table. Delivery is at least
 *   once and a replay can resend an old message, so each message is applied once (by
 *   `webhook-id`) and only if it is newer than what the table has (by the user's `sequence`).
 * - `GET /reports/pro` is a feature for the "pro" plan, decided from the app's own table: no call
 *   to Settle on the hot path.
 * - `POST /exports` costs credits: the app spends them through Settle's `entitlements.consume`
 *   with a token it signs for the user, so the balance lives in one place and never goes below zero.
 *
 * Who the user is comes from the `x-user-id` header here; a real app takes it from its session.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import type { AppRouter } from '@settle/api';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { SignJWT } from 'jose';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export type HostAppConfig = {
  /** Where Settle's API is, e.g. `http://127.0.0.1:3000`. */
  settleUrl: string;
  /** Settle's `HOST_WEBHOOK_SECRET` (`whsec_…`): verifies the webhooks. */
  webhookSecret: string;
  /** Settle's `USER_JWT_SECRET`: signs the tokens the app calls Settle with for a user. */
  userJwtSecret: string;
  /** Where the app keeps its data; default in memory. */
  dataDir?: string;
};

/** The app's mirror of one user's entitlements, as its own code reads them. */
export type MirroredEntitlements = {
  userId: string;
  credits: number;
  plan: string | null;
  subscriptionStatus: string | null;
  planPeriodEnd: Date | null;
  sequence: number;
};

/** What a Settle webhook carries (Standard Webhooks `{type, timestamp, data}` plus the user's sequence). */
type SettleWebhook =
  | { type: 'entitlements.updated'; timestamp: string; sequence: number; data: { userId: string; credits: number; plan: string | null; subscriptionStatus: string | null; planPeriodEnd: string | null } }
  | { type: 'order.updated'; timestamp: string; sequence: number; data: { userId: string; orderId: string; status: string } };

const SCHEMA = `
  create table if not exists settle_entitlements (
    user_id text primary key,
    credits integer not null,
    plan text,
    subscription_status text,
    plan_period_end timestamptz,
    sequence bigint not null,
    updated_at timestamptz not null default now()
  );
  create table if not exists settle_orders (
    order_id text primary key,
    user_id text not null,
    status text not null,
    sequence bigint not null
  );
  create table if not exists settle_webhooks_seen (
    webhook_id text primary key,
    received_at timestamptz not null default now()
  );`;

export type HostApp = {
  server: Server;
  db: PGlite;
  listen(port?: number, host?: string): Promise<string>;
  entitlements(userId: string): Promise<MirroredEntitlements | null>;
  close(): Promise<void>;
};

export async function createHostApp(config: HostAppConfig): Promise<HostApp> {
  const db = new PGlite(config.dataDir ?? 'memory://');
  await db.exec(SCHEMA);
  const verifier = new Webhook(config.webhookSecret);
  const jwtKey = new TextEncoder().encode(config.userJwtSecret);

  /** A Settle client acting as one user (a short-lived full token, `sub` = the user id): it never leaves this server; a browser gets only read tokens (`"settle_scope": "read"`). */
  async function settleAs(userId: string) {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().setExpirationTime('5m').sign(jwtKey);
    return createTRPCClient<AppRouter>({ links: [httpLink({ url: `${config.settleUrl}/trpc`, headers: { authorization: `Bearer ${token}` } })] });
  }

  async function entitlements(userId: string): Promise<MirroredEntitlements | null> {
    const r = await db.query<{ user_id: string; credits: number; plan: string | null; subscription_status: string | null; plan_period_end: Date | null; sequence: number }>(
      'select user_id, credits, plan, subscription_status, plan_period_end, sequence from settle_entitlements where user_id = $1',
      [userId],
    );
    const row = r.rows[0];
    if (!row) return null;
    return { userId: row.user_id, credits: row.credits, plan: row.plan, subscriptionStatus: row.subscription_status, planPeriodEnd: row.plan_period_end, sequence: Number(row.sequence) };
  }

  /** Apply one verified webhook: once per webhook-id, and never over a newer state. */
  async function apply(webhookId: string, event: SettleWebhook): Promise<void> {
    await db.transaction(async (tx) => {
      const seen = await tx.query('insert into settle_webhooks_seen (webhook_id) values ($1) on conflict do nothing returning webhook_id', [webhookId]);
      if (seen.rows.length === 0) return;
      if (event.type === 'entitlements.updated') {
        const e = event.data;
        await tx.query(
          `insert into settle_entitlements (user_id, credits, plan, subscription_status, plan_period_end, sequence)
           values ($1, $2, $3, $4, $5, $6)
           on conflict (user_id) do update set credits = excluded.credits, plan = excluded.plan,
             subscription_status = excluded.subscription_status, plan_period_end = excluded.plan_period_end,
             sequence = excluded.sequence, updated_at = now()
           where settle_entitlements.sequence < excluded.sequence`,
          [e.userId, e.credits, e.plan, e.subscriptionStatus, e.planPeriodEnd, event.sequence],
        );
      } else if (event.type === 'order.updated') {
        const o = event.data;
        await tx.query(
          `insert into settle_orders (order_id, user_id, status, sequence) values ($1, $2, $3, $4)
           on conflict (order_id) do update set status = excluded.status, sequence = excluded.sequence
           where settle_orders.sequence < excluded.sequence`,
          [o.orderId, o.userId, o.status, event.sequence],
        );
      }
      // Other types: acknowledged and ignored, so Settle can add types without breaking the app.
    });
  }

  async function receiveWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let event: SettleWebhook;
    try {
      // Checks the HMAC over "id.timestamp.body" and that the timestamp is within 5 minutes.
      event = verifier.verify(raw, req.headers as Record<string, string>) as SettleWebhook;
    } catch (err) {
      if (err instanceof WebhookVerificationError) return send(res, 400, { error: 'bad signature' });
      throw err;
    }
    await apply(String(req.headers['webhook-id']), event);
    // 2xx only after the change is stored: on any failure Settle sends it again.
    send(res, 204);
  }

  async function proReport(userId: string, res: ServerResponse): Promise<void> {
    const e = await entitlements(userId);
    if (e?.plan !== 'pro') return send(res, 403, { error: 'the pro plan is required', plan: e?.plan ?? null });
    send(res, 200, { report: `pro report for ${userId}`, paidUntil: e.planPeriodEnd });
  }

  async function exportWithCredits(req: IncomingMessage, userId: string, res: ServerResponse): Promise<void> {
    const idempotencyKey = req.headers['idempotency-key'];
    if (typeof idempotencyKey !== 'string' || idempotencyKey === '') return send(res, 400, { error: 'an Idempotency-Key header is required' });
    const settle = await settleAs(userId);
    try {
      // A retry of the same request (same key) spends nothing more and answers the same.
      const spent = await settle.entitlements.consume.mutate({ credits: 3, idempotencyKey, reason: 'csv export' });
      send(res, 200, { exported: true, creditsLeft: spent.credits });
    } catch (err) {
      if (err instanceof TRPCClientError && err.data?.code === 'PRECONDITION_FAILED') return send(res, 402, { error: 'not enough credits' });
      throw err;
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://host');
    const userId = req.headers['x-user-id'];
    const route = `${req.method} ${url.pathname}`;
    const handle = async () => {
      if (route === 'POST /webhooks/settle') return receiveWebhook(req, res);
      if (typeof userId !== 'string' || userId === '') return send(res, 401, { error: 'sign in first' });
      if (route === 'GET /reports/pro') return proReport(userId, res);
      if (route === 'POST /exports') return exportWithCredits(req, userId, res);
      if (route === 'GET /me') return send(res, 200, (await entitlements(userId)) ?? { userId, credits: 0, plan: null });
      send(res, 404, { error: 'not found' });
    };
    handle().catch((err: unknown) => {
      console.error(err);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });

  return {
    server,
    db,
    entitlements,
    listen: (port = 0, host = '127.0.0.1') =>
      new Promise((resolve) => server.listen(port, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`))),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1_000_000) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
