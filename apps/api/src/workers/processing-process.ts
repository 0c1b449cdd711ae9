import type { Logger } from 'pino';
import type { Settle } from '../app.js';
import { errorMessage } from '../lib/errors.js';
import type { FromProcessing, ToProcessing } from './processing-processes.js';

const HEARTBEAT_MS = 1_000;

/**
 * The processing side of `WORKER_PROCESSES`: this process was forked by an API process; it
 * processes the events the API hands it (and claims due ones like any instance), reports that
 * it is moving, and answers for its metrics. When the API goes away, it stops gracefully.
 */
export function serveApiProcess(settle: Settle, logger: Logger, opts: { shutdownTimeoutMs: number }): void {
  const send = (message: FromProcessing) => {
    if (process.connected) process.send!(message, undefined, undefined, () => {});
  };
  process.on('message', (message: ToProcessing) => {
    if (message.type === 'process') {
      for (const id of message.eventIds) settle.worker.processNow(id);
    } else if (message.type === 'metrics') {
      settle.deps.metrics.registry.getMetricsAsJSON().then(
        (metrics) => send({ type: 'metrics', requestId: message.requestId, metrics }),
        (err) => logger.warn({ err: errorMessage(err) }, 'could not collect metrics for the API'),
      );
    }
  });
  settle.deps.processor.onOrderChanged(() => send({ type: 'order-changed' }));
  const beat = () => send({ type: 'heartbeat', oldest: settle.progress.oldest() });
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  const orphaned = () => {
    clearInterval(timer);
    logger.info('the API process is gone; stopping');
    // Nobody would ever stop an orphan: if closing hangs (its database gone too), exit anyway.
    setTimeout(() => process.exit(1), opts.shutdownTimeoutMs + 5_000).unref();
    settle.close().finally(() => process.exit(0));
  };
  // The API may have died while this process was starting, before anyone listened for it.
  if (!process.connected) orphaned();
  else process.once('disconnect', orphaned);
}
