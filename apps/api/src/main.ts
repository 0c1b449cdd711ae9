import { fileURLToPath } from 'node:url';
import { createSettle } from './app.js';
import { developmentOptions } from './dev-options.js';
import { parseEnv } from './env.js';
import { createLogger } from './lib/logger.js';
import { holdPgliteLock } from './lib/pglite-lock.js';
import { serveApiProcess } from './workers/processing-process.js';
import { createProcessingProcesses } from './workers/processing-processes.js';

try {
  process.loadEnvFile?.();
} catch {
  // No .env file: the environment alone configures Settle.
}

const env = parseEnv(process.env);
const logger = createLogger(env.LOG_LEVEL);
// Before anything starts: a signal during start-up (migrations, the flag source, listening) still
// closes Settle gracefully instead of killing it with requests in flight and leases held.
const stop = stopOnSignals();

if (env.SETTLE_ROLE === 'worker') {
  // Forked by an API process (WORKER_PROCESSES): process events, serve nothing.
  const settle = await createSettle(env, { logger: logger.child({ role: 'worker' }) });
  stop.closeWith(() => settle.close());
  serveApiProcess(settle, logger, { shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS });
  logger.info({ workers: env.WORKER_CONCURRENCY }, 'Settle processing process running');
} else {
  // Tells the admin-token CLI (and a second server) that this process owns the embedded database.
  const pgliteLock = !env.DATABASE_URL && !env.PGLITE_DIR.startsWith('memory://') ? holdPgliteLock(env.PGLITE_DIR) : null;
  const processingProcesses =
    env.WORKER_PROCESSES > 0
      ? createProcessingProcesses({
          count: env.WORKER_PROCESSES,
          // This module, not the script that imported it (`pnpm dev` imports it from dev.ts).
          entry: fileURLToPath(import.meta.url),
          execArgv: process.execArgv,
          env: process.env,
          nice: env.WORKER_NICE,
          logger,
        })
      : undefined;
  const settle = await createSettle(env, { logger, ...developmentOptions, ...(processingProcesses ? { processingProcesses } : {}) });
  if (!settle.deps.stripe) logger.warn('STRIPE_SECRET_KEY is not set: offline mode, checkout needs the Stripe simulator (pnpm dev starts it)');
  stop.closeWith(() => settle.close());
  // A signal already received closed Settle: listening now would only serve a closing process.
  // One during listen() is handled by close() (it waits for the bind, then drains).
  if (!stop.requested()) {
    const url = await settle.listen();
    if (!stop.requested()) {
      pgliteLock?.setUrl(url);
      logger.info({ url, handler: env.HANDLER_MODE, workers: env.WORKER_CONCURRENCY, processingProcesses: env.WORKER_PROCESSES }, 'Settle API listening');
    }
  }
}

/**
 * SIGTERM / SIGINT close Settle and exit 0 (1 if closing fails or overruns). A signal that comes
 * before Settle is built is kept: Settle is closed as soon as `closeWith` names how.
 */
function stopOnSignals() {
  let requested = false;
  let close: (() => Promise<void>) | null = null;
  const run = () => {
    close!().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (requested) return;
      requested = true;
      logger.info({ signal, starting: !close }, 'shutting down');
      // Every stage of close() keeps to SHUTDOWN_TIMEOUT_MS; should one still hang, the process goes anyway.
      setTimeout(() => {
        logger.error({ shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS }, 'shutdown did not finish in time; exiting');
        process.exit(1);
      }, env.SHUTDOWN_TIMEOUT_MS + 5_000).unref();
      if (close) run();
    });
  }
  return {
    requested: () => requested,
    closeWith(fn: () => Promise<void>) {
      close = fn;
      if (requested) run();
    },
  };
}
