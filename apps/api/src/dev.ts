/**
 * `pnpm dev`: the API in watch mode. With no STRIPE_SECRET_KEY it first starts Settle's offline
 * Stripe simulator and points the Stripe SDK at it (host/port/protocol, through
 * STRIPE_API_BASE), so checkout and webhooks work without a Stripe account.
 */
import { randomBytes } from 'node:crypto';
import { startStripeSimulator } from '@settle/stripe-simulator';

try {
  process.loadEnvFile?.();
} catch {
  // no .env file
}

if (!process.env.STRIPE_SECRET_KEY) {
  const port = Number(process.env.PORT ?? 3000);
  const secret = process.env.STRIPE_WEBHOOK_SECRET?.split(',')[0] ?? `whsec_dev_${randomBytes(12).toString('hex')}`;
  const simulator = await startStripeSimulator({
    port: Number(process.env.STRIPE_SIMULATOR_PORT ?? 12111),
    webhookUrl: `http://127.0.0.1:${port}/webhooks/stripe`,
    webhookSecret: secret,
    log: (msg) => console.log(`[stripe-simulator] ${msg}`),
  });
  process.env.STRIPE_SECRET_KEY = 'sk_test_settle_simulator';
  process.env.STRIPE_API_BASE = simulator.url;
  process.env.STRIPE_WEBHOOK_SECRET = secret;
  process.env.USER_JWT_SECRET ??= 'dev-only-user-jwt-secret-change-me';
  console.log(
    `[settle] OFFLINE MODE: STRIPE_SECRET_KEY is not set, so Stripe is Settle's simulator at ${simulator.url}. ` +
      `Drive payments with: pnpm simulate <journey> [--duplicates] [--shuffle]`,
  );
}

await import('./main.js');
