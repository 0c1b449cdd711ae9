/**
 * The two baselines the benchmark measures Settle against, each a bare `node:http` server:
 *  - `thin`: the thinnest correct ingest: verify the signature with the Stripe SDK, one prepared
 *    `INSERT ... ON CONFLICT DO NOTHING` per event, 2xx after it committed. No processing at all.
 *  - `sync`: the synchronous design most Stripe sync tools use: verify, then one upsert of the
 *    event's object inside the request, 2xx after it committed.
 * Run as a child process: `tsx baseline-servers.ts <thin|sync> <port>` with DATABASE_URL and
 * STRIPE_WEBHOOK_SECRET set. It prints "ready" once listening.
 */
import { createServer } from 'node:http';
import pg from 'pg';
import Stripe from 'stripe';

const [mode, portArg] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
const secret = process.env.STRIPE_WEBHOOK_SECRET;
if ((mode !== 'thin' && mode !== 'sync') || !portArg || !url || !secret) {
  console.error('usage: baseline-servers.ts <thin|sync> <port> (DATABASE_URL, STRIPE_WEBHOOK_SECRET)');
  process.exit(2);
}
const pool = new pg.Pool({ connectionString: url, max: 10 });
pool.on('error', () => {});

const THIN = {
  name: 'bench_thin_insert',
  text: `insert into bench_thin_events (id, type, created, payload) values ($1, $2, to_timestamp($3), $4) on conflict (id) do nothing`,
};
const SYNC = {
  name: 'bench_sync_upsert',
  text: `insert into bench_sync_objects (id, type, data, event_created) values ($1, $2, $3, to_timestamp($4))
         on conflict (id) do update set data = excluded.data, type = excluded.type, event_created = excluded.event_created
         where bench_sync_objects.event_created <= excluded.event_created`,
};

await pool.query(`create table if not exists bench_thin_events (id text primary key, type text not null, created timestamptz not null, payload jsonb not null, received_at timestamptz not null default now())`);
await pool.query(`create table if not exists bench_sync_objects (id text primary key, type text not null, data jsonb not null, event_created timestamptz not null)`);

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/webhooks/stripe') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= 1024 * 1024) chunks.push(c);
  });
  req.on('end', () => {
    if (size > 1024 * 1024) return void res.writeHead(413).end();
    const body = Buffer.concat(chunks);
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(body, String(req.headers['stripe-signature'] ?? ''), secret);
    } catch {
      return void res.writeHead(400).end();
    }
    const object = event.data.object as { id?: string };
    const query =
      mode === 'thin'
        ? { ...THIN, values: [event.id, event.type, event.created, body.toString('utf8')] }
        : { ...SYNC, values: [object.id ?? event.id, event.type, JSON.stringify(object), event.created] };
    pool.query(query).then(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}'),
      () => res.writeHead(503).end(),
    );
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(portArg), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
