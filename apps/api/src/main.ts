import { createSettle } from './app.js';
import { developmentOptions } from './dev-options.js';
import { parseEnv } from './env.js';
import { createLogger } from './lib/logger.js';
import { holdPgliteLock } from './lib/pglite-lock.js';

try {
  process.loadEnvFile?.();
} catch {
  // No .env file: the environment alone configures Settle.
}

const env = parseEnv(process.env);
const logger = createLogger(env.LOG_LEVEL);
// Tells the admin-token CLI (and a second server) that this process owns the embedded database.
const pgliteLock = !env.DATABASE_URL && !env.PGLITE_DIR.startsWith('memory://') ? holdPgliteLock(env.PGLITE_DIR) : null;
const settle = await createSettle(env, { logger, ...developmentOptions });
if (!settle.deps.stripe) logger.warn('STRIPE_SECRET_KEY is not set: offline mode, checkout needs the Stripe simulator (pnpm dev starts it)');
const url = await settle.listen();
pgliteLock?.setUrl(url);
logger.info({ url, handler: env.HANDLER_MODE, workers: env.WORKER_CONCURRENCY }, 'Settle API listening');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    settle.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
