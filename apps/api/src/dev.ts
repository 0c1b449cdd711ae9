/**
 * `pnpm dev`: the API in watch mode. With no STRIPE_SECRET_KEY it first starts Settle's offline
 * Stripe simulator and points the Stripe SDK at it (host/port/protocol, through
 * STRIPE_API_BASE), so checkout and webhooks work without a Stripe account.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { startStripeSimulator } from '@settle/stripe-simulator';
import { DEV_ADMIN, DEV_USER_JWT_SECRET, devConsolePort } from './dev-defaults.js';
import { catalogueStripePrices, DEMO_PRODUCTS } from './payments/product-catalogue.js';
import { developmentOptions, failSimulatorMarkedEvents } from './dev-options.js';

try {
  process.loadEnvFile?.();
} catch {
  // no .env file
}

const port = Number(process.env.PORT ?? 3000);
const consoleUrl = `http://localhost:${devConsolePort(port, process.env)}/admin/`;
// Checkout redirects and the CSRF check follow PORT; the console's dev server is an allowed origin
// (its proxy keeps the Host header too, so either alone lets the printed URL sign in).
process.env.PUBLIC_URL ??= `http://localhost:${port}`;
process.env.ADMIN_ORIGINS = [process.env.ADMIN_ORIGINS, new URL(consoleUrl).origin, consoleUrl.replace('localhost', '127.0.0.1')].filter(Boolean).join(',');

if (!process.env.STRIPE_SECRET_KEY) {
  const secret = process.env.STRIPE_WEBHOOK_SECRET?.split(',')[0] ?? `whsec_dev_${randomBytes(12).toString('hex')}`;
  // The simulator's state lives beside the embedded database, so both survive a restart together.
  const pgliteDir = process.env.PGLITE_DIR ?? './.data/pglite';
  const simulator = await startStripeSimulator({
    port: Number(process.env.STRIPE_SIMULATOR_PORT ?? 12111),
    webhookUrl: `http://127.0.0.1:${port}/webhooks/stripe`,
    webhookSecret: secret,
    ...(pgliteDir.startsWith('memory://') ? {} : { stateDir: join(dirname(pgliteDir), 'stripe-simulator') }),
    log: (msg) => console.log(`[stripe-simulator] ${msg}`),
    // The demo catalogue's plans are sold at these prices (PRODUCTS_FILE users bring their own Stripe).
    prices: catalogueStripePrices(DEMO_PRODUCTS),
  });
  // `pnpm simulate <journey> --fail <type>` marks events whose processing must fail, so Replay can be practised.
  developmentOptions.beforeApply = failSimulatorMarkedEvents(simulator);
  process.env.STRIPE_SECRET_KEY = 'sk_test_settle_simulator';
  process.env.STRIPE_API_BASE = simulator.url;
  process.env.STRIPE_WEBHOOK_SECRET = secret;
  console.log(
    `[settle] OFFLINE MODE: STRIPE_SECRET_KEY is not set, so Stripe is Settle's simulator at ${simulator.url}. ` +
      `Drive payments with: pnpm simulate <journey> [--duplicates] [--shuffle]`,
  );
}

process.env.USER_JWT_SECRET ??= DEV_USER_JWT_SECRET;
if (!process.env.ADMIN_EMAIL) {
  process.env.ADMIN_EMAIL = DEV_ADMIN.email;
  process.env.ADMIN_PASSWORD = DEV_ADMIN.password;
}

await import('./main.js');
// After main.js has started listening. Each on its own line, so it can be read (and scripted).
console.log(
  [
    `[settle] API:      http://localhost:${port}`,
    `[settle] Console:  ${consoleUrl}`,
    process.env.ADMIN_PASSWORD === DEV_ADMIN.password
      ? `[settle] Sign in:  ${DEV_ADMIN.email} / ${DEV_ADMIN.password}  (development account; set ADMIN_EMAIL/ADMIN_PASSWORD to change)`
      : `[settle] Sign in:  ${process.env.ADMIN_EMAIL} (ADMIN_EMAIL) with ADMIN_PASSWORD`,
  ].join('\n'),
);
