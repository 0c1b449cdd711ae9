/**
 * The real peer: `@supabase/stripe-sync-engine` behind a minimal Fastify route, as its own
 * Fastify example serves it: raw body, `processWebhook` (signature check with the SDK, then its
 * upserts into PostgreSQL), 2xx after they committed. Its schema is migrated by its own
 * `runMigrations` into the schema `stripe` of the benchmark's database.
 *
 * The Stripe API calls it makes while processing (e.g. a Checkout Session's line items) are
 * answered by a tiny local fake on 127.0.0.1: the library's public `stripe` client is replaced by
 * one pointed there by host and port; the library itself is not patched. Real Stripe answers in
 * 100–300 ms, so this favours the peer.
 *
 * Run as a child process: `tsx sync-engine-server.ts <port>` with DATABASE_URL and
 * STRIPE_WEBHOOK_SECRET set. Prints "ready" once listening, and the count of Stripe API calls it
 * answered on SIGTERM (to stderr).
 */
import type { AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import pg from 'pg';
import Stripe from 'stripe';

// The package's ESM build resolves its migrations folder through `__dirname`, which ESM does not
// define (its runMigrations then logs the error and migrates nothing); its CommonJS build works.
const require = createRequire(import.meta.url);
const { StripeSync, runMigrations } = require('@supabase/stripe-sync-engine') as typeof import('@supabase/stripe-sync-engine');

const [portArg] = process.argv.slice(2);
const databaseUrl = process.env.DATABASE_URL;
const secret = process.env.STRIPE_WEBHOOK_SECRET;
if (!portArg || !databaseUrl || !secret) {
  console.error('usage: sync-engine-server.ts <port> (DATABASE_URL, STRIPE_WEBHOOK_SECRET)');
  process.exit(2);
}
const SCHEMA = 'stripe';

/** Answers the Stripe API reads the engine makes: every list is empty, every object missing. */
const apiCalls: Record<string, number> = {};
const fakeStripe = createHttpServer((req, res) => {
  const path = (req.url ?? '').split('?')[0]!;
  const key = `${req.method} ${path.replace(/\/(cs|pi|ch|in|re|sub|cus|dp)_[A-Za-z0-9_]+/g, '/{id}')}`;
  apiCalls[key] = (apiCalls[key] ?? 0) + 1;
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && /\/(line_items|lines|refunds)$|^\/v1\/refunds$/.test(path)) {
      res.end(JSON.stringify({ object: 'list', data: [], has_more: false, url: path }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such object: ${path}` } }));
    }
  });
});
const fakePort = await new Promise<number>((resolve) => fakeStripe.listen(0, '127.0.0.1', () => resolve((fakeStripe.address() as AddressInfo).port)));

await runMigrations({ databaseUrl, schema: SCHEMA });
{
  const check = new pg.Client({ connectionString: databaseUrl });
  await check.connect();
  const { rows } = await check.query<{ n: number }>(`select count(*)::int as n from information_schema.tables where table_schema = $1`, [SCHEMA]);
  await check.end();
  if ((rows[0]?.n ?? 0) < 10) {
    console.error(`stripe-sync-engine migrations did not run (${rows[0]?.n ?? 0} tables in schema ${SCHEMA})`);
    process.exit(1);
  }
}

const sync = new StripeSync({
  schema: SCHEMA,
  stripeSecretKey: 'sk_test_bench',
  stripeWebhookSecret: secret,
  poolConfig: { connectionString: databaseUrl, max: 10 },
});
// Its constructor builds a client for api.stripe.com; the same client, pointed at the local fake.
sync.stripe = new Stripe('sk_test_bench', { host: '127.0.0.1', port: fakePort, protocol: 'http', maxNetworkRetries: 0 });

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/webhooks/stripe', async (req, reply) => {
  const signature = req.headers['stripe-signature'];
  try {
    await sync.processWebhook(req.body as Buffer, typeof signature === 'string' ? signature : undefined);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) return reply.code(400).send({ error: 'invalid signature' });
    // Its own server answers 400 for an event it does not handle; so does this one.
    return reply.code(400).send({ error: err instanceof Error ? err.message : String(err) });
  }
  return reply.send({ received: true });
});
await app.listen({ port: Number(portArg), host: '127.0.0.1' });
app.server.keepAliveTimeout = 30_000;
console.log('ready');
process.on('SIGTERM', () => {
  console.error(`stripe-sync-engine: Stripe API calls answered locally: ${JSON.stringify(apiCalls)}`);
  void app
    .close()
    .then(() => sync.close())
    .then(() => process.exit(0));
});
