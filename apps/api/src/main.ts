import { createSettle } from './app.js';
import { developmentOptions } from './dev-options.js';
import { parseEnv } from './env.js';
import { createLogger } from './lib/logger.js';

try {
  process.loadEnvFile?.();
} catch {
  // No .env file: the environment alone configures Settle.
}

const env = parseEnv(process.env);
const logger = createLogger(env.LOG_LEVEL);
const settle = await createSettle(env, { logger, ...developmentOptions });
if (!settle.deps.stripe) logger.warn('STRIPE_SECRET_KEY is not set: offline mode, checkout needs the Stripe simulator (pnpm dev starts it)');
const url = await settle.listen();
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
