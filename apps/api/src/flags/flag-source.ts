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
};

export type FlagSource = {
  readonly kind: FlagSourceKind;
  readonly unleash: Unleash;
  status(): FlagSourceStatus;
  /** Resolves true once the SDK is ready, false after `timeoutMs`; never throws. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  close(): void;
};

type Shared = {
  unleash: Unleash;
  refs: number;
  status: FlagSourceStatus;
  listeners: Set<FlagSourceListener>;
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

function createShared(config: FlagSourceConfig): Shared {
  if (config.backupDir) mkdirSync(config.backupDir, { recursive: true });
  const unleash = new Unleash({
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
    ...(config.bootstrap?.length ? { bootstrap: { data: config.bootstrap }, bootstrapOverride: false } : {}),
  });
  const entry: Shared = {
    unleash,
    refs: 0,
    listeners: new Set(),
    status: { kind: config.kind, ready: false, up: null, lastRefreshAt: null, lastError: null, consecutiveErrors: 0 },
  };
  const succeeded = () => {
    const recovered = entry.status.up === false;
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
  // The SDK's own `ready` (it evaluates from now on, fetched or from its backup): before it,
  // evaluation would answer the SDK's defaults, so callers use HANDLER_MODE instead.
  unleash.on(UnleashEvents.Ready, () => {
    entry.status = { ...entry.status, ready: true };
  });
  // Bootstrapped flags also emit `changed`; only a poll's answer says the source is reachable.
  let bootstrapped = Boolean(config.bootstrap?.length);
  unleash.on(UnleashEvents.Changed, () => {
    if (bootstrapped) {
      bootstrapped = false;
      return;
    }
    succeeded();
  });
  unleash.on(UnleashEvents.Unchanged, succeeded);
  unleash.on(UnleashEvents.Error, (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (isFetchFailure(message)) failed(message);
  });
  unleash.on(UnleashEvents.Warn, (msg: unknown) => {
    const message = msg instanceof Error ? msg.message : String(msg);
    if (isFetchFailure(message)) failed(message);
  });
  void unleash.start();
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
    unleash: e.unleash,
    status: () => e.status,
    async waitUntilReady(timeoutMs) {
      if (e.status.ready) return true;
      return new Promise<boolean>((resolve) => {
        const done = (ready: boolean) => {
          clearTimeout(timer);
          e.unleash.off(UnleashEvents.Ready, onReady);
          resolve(ready);
        };
        const onReady = () => done(true);
        const timer = setTimeout(() => done(e.status.ready), timeoutMs);
        e.unleash.on(UnleashEvents.Ready, onReady);
      });
    },
    close() {
      if (closed) return;
      closed = true;
      e.listeners.delete(listener);
      e.refs -= 1;
      if (e.refs === 0) {
        shared.delete(key);
        e.unleash.destroy();
        // destroy() drops the repository's listeners, but a poll still in flight (the SDK retries
        // a failed one for seconds) reports its failure there afterwards: an unhandled 'error'
        // event, which would crash the process. Nothing is listening any more; keep it quiet.
        const repository = (e.unleash as unknown as { repository?: { on?: (event: string, fn: () => void) => void } }).repository;
        repository?.on?.(UnleashEvents.Error, () => {});
      }
    },
  };
}
