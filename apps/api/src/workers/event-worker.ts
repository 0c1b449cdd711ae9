import { claimDueEvents, releaseLeases, type Db } from '@settle/db';
import type { Logger } from 'pino';
import { errorMessage } from '../lib/errors.js';
import type { InboxProcessor } from './inbox-processor.js';

export type EventWorkerOptions = {
  db: Db;
  processor: InboxProcessor;
  logger: Logger;
  workerId: string;
  /** Events processed at once by this process; 0 disables background claiming. */
  concurrency: number;
  pollMs: number;
  batch: number;
  leaseMs: number;
  /** Events processed in one transaction (one commit); default 25. */
  eventsPerTransaction?: number;
  /**
   * Webhook requests being answered right now. While there are any, processing runs one batch at
   * a time: acknowledging Stripe comes first (a slow 2xx makes Stripe resend), processing catches
   * up as soon as the burst is over.
   */
  webhooksInFlight?: () => number;
};

export type EventWorker = {
  /**
   * Process a just-stored event soon (the webhook's fast path), within the same concurrency
   * limit as claimed work, so processing never starves ingest. Tracked for shutdown.
   */
  processNow(eventId: string): void;
  /** Stop claiming, wait for in-flight work up to `deadlineMs`, then give back unfinished leases. */
  stop(deadlineMs: number): Promise<void>;
  inFlight(): number;
};

/**
 * Background processing: claims due inbox events in batches under a lease (`FOR UPDATE SKIP
 * LOCKED`), so any number of API processes share the inbox and a crashed process's claims are
 * taken over when their lease expires.
 */
export function startEventWorker(opts: EventWorkerOptions): EventWorker {
  const running = new Set<Promise<unknown>>();
  // Events this process just stored, processed before anything claimed from the database. Bounded:
  // past the bound an event simply waits in the inbox for a claim.
  const local: string[] = [];
  const LOCAL_MAX = 10_000;
  let stopping = false;
  let wake: (() => void) | null = null;

  // Events processed per transaction: one commit for several events under load.
  const perTransaction = Math.max(1, opts.eventsPerTransaction ?? 25);
  const limit = () => (opts.webhooksInFlight && opts.webhooksInFlight() > 0 ? Math.min(1, opts.concurrency) : opts.concurrency);

  const track = (eventIds: string[]) => {
    const p = opts.processor
      .processBatch(eventIds)
      .catch((err) => opts.logger.error({ events: eventIds.length, err: errorMessage(err) }, 'unexpected processing error'))
      .finally(() => {
        running.delete(p);
        if (!stopping && local.length > 0 && running.size < limit()) track(local.splice(0, perTransaction));
        else wake?.();
      });
    running.add(p);
    return p;
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  async function loop() {
    while (!stopping) {
      const free = limit() - running.size;
      if (free > 0 && local.length > 0) {
        track(local.splice(0, perTransaction));
        continue;
      }
      if (free <= 0 || local.length > 0) {
        await sleep(opts.pollMs);
        continue;
      }
      let ids: string[] = [];
      try {
        ids = await claimDueEvents(opts.db, { limit: Math.min(free * perTransaction, opts.batch), leaseMs: opts.leaseMs, workerId: opts.workerId });
      } catch (err) {
        opts.logger.warn({ err: errorMessage(err) }, 'could not claim inbox events');
      }
      if (stopping) break;
      // Spread the claim over the free slots, so several transactions run side by side.
      const size = Math.max(1, Math.min(perTransaction, Math.ceil(ids.length / free)));
      for (let i = 0; i < ids.length; i += size) track(ids.slice(i, i + size));
      if (ids.length === 0) await sleep(opts.pollMs);
    }
  }

  const loopDone = opts.concurrency > 0 ? loop() : Promise.resolve();

  return {
    processNow(eventId) {
      if (stopping || opts.concurrency === 0) return;
      if (running.size < limit()) track([eventId]);
      else if (local.length < LOCAL_MAX) local.push(eventId);
    },
    inFlight: () => running.size,
    async stop(deadlineMs) {
      stopping = true;
      wake?.();
      await loopDone;
      const deadline = new Promise((resolve) => setTimeout(resolve, deadlineMs).unref());
      await Promise.race([Promise.allSettled([...running]), deadline]);
      try {
        const released = await releaseLeases(opts.db, opts.workerId);
        if (released) opts.logger.info({ released }, 'released unfinished leases');
      } catch (err) {
        opts.logger.warn({ err: errorMessage(err) }, 'could not release leases; they expire on their own');
      }
    },
  };
}
