import { claimDueDeliveries, recordDeliveryAttempt, releaseDeliveryLeases, type Db, type HostDeliveryRow } from '@settle/db';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { errorMessage } from '../lib/errors.js';
import { createWakeableSleep } from '../lib/wakeable-sleep.js';
import type { Metrics } from '../lib/metrics.js';
import { nextDeliveryStep, type DeliverySchedule } from './delivery-schedule.js';

export type HostWebhookSenderOptions = {
  db: Db;
  logger: Logger;
  metrics: Metrics;
  workerId: string;
  url: string;
  /** `whsec_` + base64 (Standard Webhooks). */
  secret: string;
  schedule: DeliverySchedule;
  timeoutMs: number;
  /** Deliveries in flight at once (each to a different user: a user's messages go one by one). */
  concurrency: number;
  pollMs: number;
};

export type HostWebhookSender = {
  /** Look for due messages now (something was just written to the outbox). */
  wake(): void;
  /** Stop claiming, wait for in-flight deliveries up to `deadlineMs`, give back unfinished leases. */
  stop(deadlineMs: number): Promise<void>;
};

/** The start of a host's answer kept for the console. */
const RESPONSE_KEEP_CHARS = 1000;

/**
 * Sends the outbox to the host app, apart from Stripe event processing: a host that is slow or
 * down delays only its own webhooks, never a payment. At least once: a message stays pending until
 * the host answers 2xx (the `webhook-id` stays the same, so the host can drop repeats), then is
 * retried on the schedule and finally dead (replayable). Leases let several instances share it.
 */
export function startHostWebhookSender(opts: HostWebhookSenderOptions): HostWebhookSender {
  const signer = new Webhook(opts.secret);
  // Longer than any one attempt, so a live sender never loses its claim mid-request.
  const leaseMs = opts.timeoutMs + 30_000;
  const running = new Set<Promise<void>>();
  let stopping = false;
  const pause = createWakeableSleep();

  async function attempt(d: HostDeliveryRow): Promise<void> {
    const body = JSON.stringify(d.payload);
    const sentAt = new Date();
    const started = performance.now();
    let responseStatus: number | null = null;
    let responseBody: string | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Settle-Webhooks/1',
          'webhook-id': d.id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signer.sign(d.id, sentAt, body),
        },
        body,
        // A redirect is a misconfigured URL, not a delivery.
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      responseStatus = res.status;
      // PostgreSQL text cannot hold NUL, which a binary or UTF-16 answer is full of: kept as is, the
      // attempt could never be recorded, and the message would be sent again every lease, forever,
      // holding back the user's later messages.
      responseBody = (await res.text().catch(() => '')).slice(0, RESPONSE_KEEP_CHARS).replaceAll('\u0000', '\uFFFD');
    } catch (err) {
      error = errorMessage(err);
    }
    const durationMs = performance.now() - started;
    const delivered = responseStatus !== null && responseStatus >= 200 && responseStatus < 300;
    const step = delivered ? null : nextDeliveryStep(d.attempts + 1, opts.schedule);
    const outcome = delivered
      ? { kind: 'delivered' as const }
      : step?.kind === 'retry'
        ? { kind: 'retry' as const, nextAttemptAt: new Date(Date.now() + step.delayMs) }
        : { kind: 'dead' as const };
    await recordDeliveryAttempt(opts.db, {
      deliveryId: d.id,
      workerId: opts.workerId,
      attempt: { attemptedAt: sentAt, durationMs, responseStatus, responseBody, error },
      outcome,
    });
    opts.metrics.hostWebhookDeliveries.inc({ outcome: outcome.kind, type: d.type });
    if (delivered) opts.metrics.hostWebhookLatency.observe((Date.now() - new Date(d.created_at).getTime()) / 1000);
    else if (outcome.kind === 'dead') {
      opts.logger.error({ deliveryId: d.id, userId: d.user_id, type: d.type, attempts: d.attempts + 1, status: responseStatus, error }, 'host webhook dead after its last attempt');
    } else {
      opts.logger.warn({ deliveryId: d.id, userId: d.user_id, type: d.type, attempt: d.attempts + 1, status: responseStatus, error }, 'host webhook attempt failed; will retry');
    }
  }

  const track = (d: HostDeliveryRow) => {
    const p = attempt(d)
      .catch((err) => opts.logger.warn({ deliveryId: d.id, err: errorMessage(err) }, 'could not record a host webhook attempt; the lease expires and it is sent again'))
      .finally(() => {
        running.delete(p);
        // The user's next message may be due now.
        pause.wake();
      });
    running.add(p);
  };

  async function loop() {
    while (!stopping) {
      const free = opts.concurrency - running.size;
      if (free <= 0) {
        await pause.sleep(opts.pollMs);
        continue;
      }
      let claimed: HostDeliveryRow[] = [];
      try {
        claimed = await claimDueDeliveries(opts.db, { limit: free, leaseMs, workerId: opts.workerId });
      } catch (err) {
        opts.logger.warn({ err: errorMessage(err) }, 'could not claim host webhooks');
      }
      if (stopping) break;
      for (const d of claimed) track(d);
      if (claimed.length === 0) await pause.sleep(opts.pollMs);
    }
  }
  const loopDone = loop();

  return {
    wake: pause.wake,
    async stop(deadlineMs) {
      stopping = true;
      pause.wake();
      await loopDone;
      const deadline = new Promise((resolve) => setTimeout(resolve, deadlineMs).unref());
      await Promise.race([Promise.allSettled([...running]), deadline]);
      try {
        await releaseDeliveryLeases(opts.db, opts.workerId);
      } catch (err) {
        opts.logger.warn({ err: errorMessage(err) }, 'could not release host webhook leases; they expire on their own');
      }
    },
  };
}
