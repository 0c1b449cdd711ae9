import { mkdirSync } from 'node:fs';
import { InMemStorageProvider, Unleash, UnleashEvents, type ClientFeaturesResponse } from 'unleash-client';
import type { FeatureInterface } from 'unleash-client/lib/feature.js';

/** `settle`: Settle serves the flags itself from its database; `unleash`: a real Unleash server. */
export type FlagSourceKind = 'settle' | 'unleash';

export type FlagSourceConfig = {
  kind: FlagSourceKind;
  /** Unleash client API base, e.g. `http://127.0.0.1:4242/api/`. */
  url: string;
  token: string | null;
  refreshMs: number;
  environment: string;
  instanceId: string;
  /** Where the SDK keeps its last known flags across restarts; null keeps them in memory only. */
  backupDir: string | null;
  /** Flags known before the first poll (the self-served source reads them from its database). */
  bootstrap?: FeatureInterface[];
  /** Usage metrics are sent to a real Unleash only; Settle's own endpoint does not take them. */
  sendMetrics: boolean;
};

export type FlagSourceStatus = {
  kind: FlagSourceKind;
  /** The SDK holds a flag state (fetched, from its backup, or bootstrapped). */
  ready: boolean;
  /** Whether the last poll succeeded; null before the first one finished. */
  up: boolean | null;
  lastRefreshAt: Date | null;
  lastError: string | null;
  consecutiveErrors: number;
};

export type FlagSourceListener = {
  /** A poll failed; `first` is true on the transition from healthy (or unknown) to failing. */
  onFetchError(error: string, first: boolean, status: FlagSourceStatus): void;
  onRecovered(status: FlagSourceStatus): void;
  /** A poll succeeded (changed or unchanged). */
  onRefreshed(status: FlagSourceStatus): void;
  /**
   * The SDK stopped polling for good (Unleash refused its token) and will be reopened in
   * `delayMs`, keeping the flags it knows; `attempt` counts from 1 until a poll succeeds.
   */
  onReopenScheduled(attempt: number, delayMs: number, error: string): void;
};

export type FlagSource = {
  readonly kind: FlagSourceKind;
  /** The SDK evaluating now; replaced when it is reopened after Unleash refused its token. */
  readonly unleash: Unleash;
  status(): FlagSourceStatus;
  /** Resolves true once the SDK is ready, false after `timeoutMs`; never throws. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  close(): void;
};

type Shared = {
  /** The SDK evaluating now. */
  unleash: Unleash;
  /** A reopened SDK, until it holds the flags (then it becomes `unleash`). */
  next: Unleash | null;
  refs: number;
  status: FlagSourceStatus;
  listeners: Set<FlagSourceListener>;
  whenReady: Set<() => void>;
  reopenTimer: NodeJS.Timeout | null;
  /** Reopens since the last successful poll. */
  reopens: number;
  closed: boolean;
};

/**
 * One SDK instance per process and configuration: API instances of one process that point at the
 * same source share it (and its polling); it is destroyed when the last one closes.
 */
const shared = new Map<string, Shared>();

function signature(c: FlagSourceConfig): string {
  return JSON.stringify([c.kind, c.url, c.token, c.refreshMs, c.environment, c.backupDir]);
}

/**
 * A repository (fetch) failure, as opposed to a failure to send usage metrics (the SDK words
 * those "… returning 500"). Its fetcher says "… responded 500. Backing off", and for 404 and 429
 * "… responded FILE_NOT_FOUND (404)" / "TOO_MANY_CONNECTIONS (429)" (unleash-client 6).
 */
export function isFetchFailure(message: string): boolean {
  return message.startsWith('Unleash Repository error') || / responded (\d{3}|[A-Z_]+ \(\d{3}\))/.test(message) || message.startsWith('Socket keep alive error');
}

/**
 * A fetch failure after which unleash-client never polls again: on 401 or 403 its polling fetcher
 * says "… responded 401 which means your API key is not allowed to connect. Stopping refresh of
 * toggles" and schedules no further fetch (unleash-client 6).
 */
export function stopsPolling(message: string): boolean {
  return / responded 40[13]\b/.test(message) || message.includes('Stopping refresh of toggles');
}

/** The longest wait between reopens of an SDK that Unleash keeps refusing (a revoked token). */
const MAX_REOPEN_DELAY_MS = 300_000;

/** How long to wait before reopen number `attempt` (1, 2, …): the poll interval, doubling. */
export function reopenDelayMs(refreshMs: number, attempt: number): number {
  return Math.min(refreshMs * 2 ** Math.min(attempt - 1, 20), Math.max(refreshMs, MAX_REOPEN_DELAY_MS));
}

function destroyQuietly(unleash: Unleash) {
  unleash.destroy();
  // destroy() drops the repository's listeners, but a poll still in flight (the SDK retries a
  // failed one for seconds) reports its failure there afterwards: an unhandled 'error' event,
  // which would crash the process. Nothing is listening any more; keep it quiet.
  const repository = (unleash as unknown as { repository?: { on?: (event: string, fn: () => void) => void } }).repository;
  repository?.on?.(UnleashEvents.Error, () => {});
}

function createSdk(config: FlagSourceConfig, bootstrap: FeatureInterface[]): Unleash {
  return new Unleash({
    url: config.url,
    appName: 'settle',
    instanceId: config.instanceId,
    environment: config.environment,
    refreshInterval: config.refreshMs,
    timeout: Math.max(1_000, Math.min(10_000, config.refreshMs * 5)),
    disableMetrics: !config.sendMetrics,
    disableAutoStart: true,
    skipInstanceCountWarning: true,
    ...(config.token ? { customHeaders: { Authorization: config.token } } : {}),
    ...(config.backupDir ? { backupPath: config.backupDir } : { storageProvider: new InMemStorageProvider<ClientFeaturesResponse>() }),
    ...(bootstrap.length ? { bootstrap: { data: bootstrap }, bootstrapOverride: false } : {}),
  });
}

function createShared(config: FlagSourceConfig): Shared {
  if (config.backupDir) mkdirSync(config.backupDir, { recursive: true });
  const entry: Shared = {
    unleash: undefined as unknown as Unleash,
    next: null,
    refs: 0,
    listeners: new Set(),
    whenReady: new Set(),
    reopenTimer: null,
    reopens: 0,
    closed: false,
    status: { kind: config.kind, ready: false, up: null, lastRefreshAt: null, lastError: null, consecutiveErrors: 0 },
  };
  const succeeded = () => {
    const recovered = entry.status.up === false;
    entry.reopens = 0;
    entry.status = { ...entry.status, up: true, lastRefreshAt: new Date(), lastError: null, consecutiveErrors: 0 };
    for (const l of entry.listeners) {
      l.onRefreshed(entry.status);
      if (recovered) l.onRecovered(entry.status);
    }
  };
  const failed = (message: string) => {
    const first = entry.status.up !== false;
    entry.status = { ...entry.status, up: false, lastError: message, consecutiveErrors: entry.status.consecutiveErrors + 1 };
    for (const l of entry.listeners) l.onFetchError(message, first, entry.status);
  };
  const markReady = () => {
    if (entry.status.ready) return;
    entry.status = { ...entry.status, ready: true };
    for (const fn of entry.whenReady) fn();
  };

  /**
   * The SDK has stopped polling: open a new one after a backoff. The stopped one keeps evaluating
   * its last flags until the new one holds them too (bootstrapped with them), so choices never
   * fall back to HANDLER_MODE on the way.
   */
  const scheduleReopen = (message: string) => {
    if (entry.closed || entry.reopenTimer) return;
    entry.reopens += 1;
    const delayMs = reopenDelayMs(config.refreshMs, entry.reopens);
    for (const l of entry.listeners) l.onReopenScheduled(entry.reopens, delayMs, message);
    entry.reopenTimer = setTimeout(() => {
      entry.reopenTimer = null;
      if (entry.closed) return;
      if (entry.next) destroyQuietly(entry.next);
      const known = entry.unleash.getFeatureToggleDefinitions();
      // Settle's handler flag uses no segments: the toggles alone are the whole state.
      const next = start(known.length ? known : (config.bootstrap ?? []));
      if (known.length) {
        entry.next = next;
      } else {
        // Nothing known to lose: the new SDK takes over at once.
        destroyQuietly(entry.unleash);
        entry.unleash = next;
      }
    }, delayMs);
    entry.reopenTimer.unref?.();
  };

  const start = (bootstrap: FeatureInterface[]): Unleash => {
    const unleash = createSdk(config, bootstrap);
    const current = () => unleash === entry.unleash || unleash === entry.next;
    // The SDK's own `ready` (it evaluates from now on, fetched, from its backup or bootstrapped):
    // before it, evaluation would answer the SDK's defaults, so callers use HANDLER_MODE instead.
    unleash.on(UnleashEvents.Ready, () => {
      if (unleash === entry.next) {
        const stopped = entry.unleash;
        entry.unleash = unleash;
        entry.next = null;
        destroyQuietly(stopped);
      }
      if (current()) markReady();
    });
    // Bootstrapped flags also emit `changed`; only a poll's answer says the source is reachable.
    let bootstrapped = bootstrap.length > 0;
    unleash.on(UnleashEvents.Changed, () => {
      if (bootstrapped) {
        bootstrapped = false;
        return;
      }
      if (current()) succeeded();
    });
    unleash.on(UnleashEvents.Unchanged, () => {
      if (current()) succeeded();
    });
    const onProblem = (problem: unknown) => {
      const message = problem instanceof Error ? problem.message : String(problem);
      if (!current() || !isFetchFailure(message)) return;
      failed(message);
      if (stopsPolling(message)) scheduleReopen(message);
    };
    unleash.on(UnleashEvents.Error, onProblem);
    unleash.on(UnleashEvents.Warn, onProblem);
    void unleash.start();
    return unleash;
  };

  entry.unleash = start(config.bootstrap ?? []);
  return entry;
}

/** Open (or join) the SDK instance for this source; `listener` hears about its health. */
export function openFlagSource(config: FlagSourceConfig, listener: FlagSourceListener): FlagSource {
  const key = signature(config);
  let entry = shared.get(key);
  if (!entry) {
    entry = createShared(config);
    shared.set(key, entry);
  }
  entry.refs += 1;
  entry.listeners.add(listener);
  const e = entry;
  let closed = false;
  return {
    kind: config.kind,
    get unleash() {
      return e.unleash;
    },
    status: () => e.status,
    async waitUntilReady(timeoutMs) {
      if (e.status.ready) return true;
      return new Promise<boolean>((resolve) => {
        const done = (ready: boolean) => {
          clearTimeout(timer);
          e.whenReady.delete(onReady);
          resolve(ready);
        };
        const onReady = () => done(true);
        const timer = setTimeout(() => done(e.status.ready), timeoutMs);
        e.whenReady.add(onReady);
      });
    },
    close() {
      if (closed) return;
      closed = true;
      e.listeners.delete(listener);
      e.refs -= 1;
      if (e.refs === 0) {
        shared.delete(key);
        e.closed = true;
        if (e.reopenTimer) clearTimeout(e.reopenTimer);
        if (e.next) destroyQuietly(e.next);
        destroyQuietly(e.unleash);
      }
    },
  };
}
