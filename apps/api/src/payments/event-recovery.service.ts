import { createInboxWriter, knownEventIds, snapshotEventsNamed, UnstorableEventError, newestStoredEventTime, recordAdminAction, type Db, type InboxWriter, type NewStripeEvent } from '@settle/db';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import { errorMessage } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import { settledWithin } from '../lib/within.js';
import { settledOnReceipt } from './stripe-event-resolver.js';

/** Stripe keeps events for 30 days; a little less, so a page never asks for what just expired. */
const RETENTION_S = 30 * 86_400 - 300;
/** How far before Settle's newest stored event the window starts by default. */
const WINDOW_LEAD_S = 15 * 60;
const PAGE_SIZE = 100;

export type RecoveryResult = { listed: number; stored: number; alreadyKnown: number };
export type RecoveryPhase = 'undelivered' | 'window' | 'done';
export type RecoveryProgress = RecoveryResult & { phase: RecoveryPhase; running: boolean; startedAt: string; finishedAt: string | null; error: string | null };
export type RecoveryTrigger = 'admin' | 'start' | 'schedule';
export type RecoveryRequest = { trigger: RecoveryTrigger; since?: Date; actor?: string; reason?: string };

export type EventRecoveryDeps = {
  db: Db;
  stripe: Stripe | null;
  logger: Logger;
  metrics: Metrics;
  /** Process a stored event now (the same path as a webhook's). */
  processNow(eventId: string): void;
  now?: () => number;
};

export type EventRecovery = {
  /**
   * Store every event Stripe's Events API has that the inbox does not: first those whose delivery
   * failed (`delivery_success=false`, the last 30 days), then every event created in a window from
   * `since` (default: shortly before the newest stored event). One run at a time per instance: an
   * unattended call joins an unattended run already under way or waiting; any other call waits for
   * the runs before it and then makes its own.
   */
  recover(opts: RecoveryRequest): Promise<RecoveryResult>;
  /** The run in progress or the last one (for the console's progress bar); null before the first. */
  progress(): RecoveryProgress | null;
  start(intervalMs: number): void;
  /**
   * No new run; the run under way stops at its next page or event (a Stripe call already made is
   * not waited for past `deadlineMs`; an event it stored is processed, the rest comes with the
   * next run). False when a run was still going at the deadline.
   */
  stop(deadlineMs?: number): Promise<boolean>;
};

/** The inbox row of an event listed by Stripe: the same columns the webhook route stores. */
function inboxRow(event: Stripe.Event): NewStripeEvent {
  const object = event.data.object as { id?: unknown };
  return settledOnReceipt({
    id: event.id,
    type: event.type,
    object_id: typeof object.id === 'string' ? object.id.slice(0, 255) : null,
    stripe_created: new Date(event.created * 1000),
    api_version: event.api_version ?? null,
    livemode: event.livemode,
    payload: JSON.stringify(event),
  }, false);
}

export function createEventRecovery(deps: EventRecoveryDeps): EventRecovery {
  const now = deps.now ?? Date.now;
  // The same inbox writer as the webhook route: the same insert, `ON CONFLICT DO NOTHING`.
  const inbox: InboxWriter = createInboxWriter(deps.db);
  /** The last run asked for (under way, or waiting for those before it); null once every run has settled. */
  let latest: { opts: RecoveryRequest; result: Promise<RecoveryResult> } | null = null;
  let progress: RecoveryProgress | null = null;
  let timer: NodeJS.Timeout | null = null;
  /** Shutdown began: a run stops at its next page or event. */
  let stopping = false;

  async function storeMissing(events: Stripe.Event[], seen: Set<string>, p: RecoveryProgress): Promise<void> {
    const fresh = events.filter((e) => !seen.has(e.id));
    for (const e of fresh) seen.add(e.id);
    p.listed += fresh.length;
    const ids = fresh.map((e) => e.id);
    // Known by their own id (a snapshot endpoint), or by the thin notification that named them (an event destination).
    const known = new Set([...(await knownEventIds(deps.db, ids)), ...(await snapshotEventsNamed(deps.db, ids))]);
    // Oldest first, so processing sees them roughly in Stripe's order (it does not depend on it).
    for (const e of fresh.filter((x) => !known.has(x.id)).reverse()) {
      if (stopping) throw new Error('shutting down');
      let stored: boolean;
      const row = inboxRow(e);
      try {
        stored = await inbox.write(row);
      } catch (err) {
        // Refused as the webhook would refuse it (400): the rest of the recovery goes on.
        if (!(err instanceof UnstorableEventError)) throw err;
        deps.logger.warn({ eventId: e.id, err: errorMessage(err) }, 'recovered event cannot be stored; skipped');
        continue;
      }
      if (stored) {
        p.stored += 1;
        if (row.state === undefined) deps.processNow(e.id);
      } else {
        p.alreadyKnown += 1;
      }
    }
    p.alreadyKnown += fresh.filter((x) => known.has(x.id)).length;
  }

  async function page(stripe: Stripe, params: Stripe.EventListParams, seen: Set<string>, p: RecoveryProgress): Promise<void> {
    let startingAfter: string | undefined;
    for (;;) {
      if (stopping) throw new Error('shutting down');
      const list = await stripe.events.list({ ...params, limit: PAGE_SIZE, ...(startingAfter ? { starting_after: startingAfter } : {}) });
      await storeMissing(list.data, seen, p);
      const last = list.data.at(-1);
      if (!list.has_more || !last) return;
      startingAfter = last.id;
    }
  }

  async function run(opts: RecoveryRequest): Promise<RecoveryResult> {
    const stripe = deps.stripe;
    const p: RecoveryProgress = { listed: 0, stored: 0, alreadyKnown: 0, phase: 'undelivered', running: true, startedAt: new Date(now()).toISOString(), finishedAt: null, error: null };
    progress = p;
    try {
      if (!stripe) throw new Error('Stripe is not configured on this server');
      const floor = Math.floor(now() / 1000) - RETENTION_S;
      // Read before the first phase stores anything: an undelivered event it stores may be minutes
      // old, and a window starting there would skip the gap before it.
      const newest = opts.since ? null : await newestStoredEventTime(deps.db);
      const seen = new Set<string>();
      await page(stripe, { delivery_success: false, created: { gte: floor } }, seen, p);
      p.phase = 'window';
      const from = opts.since ? Math.floor(opts.since.getTime() / 1000) : newest ? Math.floor(newest.getTime() / 1000) - WINDOW_LEAD_S : null;
      // An empty inbox has no window to fill: only undelivered events are recovered.
      if (from !== null) await page(stripe, { created: { gte: Math.max(floor, from) } }, seen, p);
      p.phase = 'done';
      const result = { listed: p.listed, stored: p.stored, alreadyKnown: p.alreadyKnown };
      if (result.stored > 0) deps.metrics.eventsRecovered.inc({ trigger: opts.trigger }, result.stored);
      deps.logger.info({ trigger: opts.trigger, ...result }, 'missed events recovered from Stripe');
      if (opts.actor) {
        await recordAdminAction(deps.db, {
          actor: opts.actor,
          action: 'events.recover',
          target: 'stripe_events',
          reason: opts.reason ?? null,
          details: { ...result, since: opts.since?.toISOString() ?? null },
        });
      }
      return result;
    } catch (err) {
      p.error = errorMessage(err);
      throw err;
    } finally {
      p.running = false;
      p.finishedAt = new Date(now()).toISOString();
    }
  }

  /**
   * Whether a call may take another's run as its own: only when both are unattended and ask for the
   * same window. An admin's call always gets its own run, so its counts describe the window it asked
   * for and its audit entry is written.
   */
  const sameRun = (a: RecoveryRequest, b: RecoveryRequest) => !a.actor && !b.actor && a.since?.getTime() === b.since?.getTime();

  const recover: EventRecovery['recover'] = (opts) => {
    if (latest && sameRun(latest.opts, opts)) return latest.result;
    // Runs never overlap: this one starts once the last one asked for has settled, whatever its outcome.
    const before = latest?.result.catch(() => undefined);
    const result: Promise<RecoveryResult> = (before ? before.then(() => run(opts)) : run(opts)).finally(() => {
      if (latest?.result === result) latest = null;
    });
    latest = { opts, result };
    return result;
  };

  const scheduled = (trigger: RecoveryTrigger) =>
    void recover({ trigger }).catch((err: unknown) => deps.logger.warn({ err: errorMessage(err) }, 'event recovery failed; next run on schedule'));

  return {
    recover,
    progress: () => (progress ? { ...progress } : null),
    start(intervalMs) {
      if (intervalMs <= 0 || !deps.stripe || timer) return;
      scheduled('start');
      timer = setInterval(() => scheduled('schedule'), intervalMs);
      timer.unref();
    },
    async stop(deadlineMs = Number.POSITIVE_INFINITY) {
      stopping = true;
      if (timer) clearInterval(timer);
      timer = null;
      const run = latest?.result;
      if (!run) return true;
      const finished = Number.isFinite(deadlineMs) ? await settledWithin(run, deadlineMs) : (await run.catch(() => undefined), true);
      if (!finished) deps.logger.warn({ deadlineMs }, 'event recovery still waiting on Stripe at shutdown; left to end on its own, the next run covers its window');
      return finished;
    },
  };
}
