import { findFeatureFlag, listFeatureFlags, recordAdminAction, saveFeatureFlag, type Db, type FeatureFlagRow, type FlagMode } from '@settle/db';
import type { Handler } from '@settle/payments-core';
import type { Logger } from 'pino';
import type { FeatureInterface } from 'unleash-client/lib/feature.js';
import type { Env } from '../env.js';
import type { Metrics } from '../lib/metrics.js';
import { ROLLOUT_VARIANT, settingOf, toClientFeature, type FlagSetting } from './flag-definition.js';
import { openFlagSource, type FlagSource, type FlagSourceKind, type FlagSourceStatus } from './flag-source.js';
import { createUnleashAdmin, UnleashAdminError, type AppliedStep, type ServedToClients, type UnleashAdmin } from './unleash-admin.js';

/** The one flag that routes new orders between the handlers. */
export const NEW_HANDLER_FLAG = 'settle.new-payment-handler';

/** The handler a new order is created under, and whether the new handler shadows it. */
/** `basis`: the flag decided, or HANDLER_MODE did (no flag known). Counted once the order exists (`settle_handler_choices_total`). */
export type HandlerChoice = { handler: Handler; shadow: boolean; basis: 'flag' | 'default' };

export type FlagView = FlagSetting & {
  flag: string;
  source: FlagSourceKind;
  /** False while the SDK has no definition of the flag: new orders get `fallbackHandler`. */
  defined: boolean;
  fallbackHandler: Handler;
  refreshIntervalMs: number;
  status: FlagSourceStatus;
};

export type HandlerFlag = {
  readonly source: FlagSourceKind;
  readonly refreshIntervalMs: number;
  /**
   * Read the flags stored in Settle's database (the self-served source), before the API listens:
   * the SDK starts with them, so no order is created before the stored flag (a kill switch) is known.
   */
  load(): Promise<void>;
  /**
   * Start the SDK. The self-served source needs the API's own base URL, so it starts as the API
   * binds (`selfUrl` resolves once it is bound); start-up is bounded by UNLEASH_STARTUP_TIMEOUT_MS.
   * Whenever the flag cannot be evaluated, new orders get HANDLER_MODE.
   */
  start(selfUrl: string | Promise<string> | null): Promise<void>;
  /** True from `start` until the SDK is ready or start-up timed out. */
  startingUp(): boolean;
  /** Resolves once start-up is over (at once if it is not under way); never rejects. */
  started(): Promise<void>;
  /** Evaluate the flag for a new order of this user (the SDK's rollout, sticky on the user id). */
  choose(userId: string): HandlerChoice;
  view(): FlagView;
  /** Change the flag where it lives (Settle's database or Unleash), audited with actor and reason. */
  set(db: Db, change: FlagSetting & { actor: string; reason: string }): Promise<FlagSetting>;
  close(): void;
};

/** How long a change written to Unleash may take to be served to the client token (its cache). */
const SERVED_WITHIN_MS = 5_000;

/** At most one warning this often about reopening an SDK that Unleash keeps refusing. */
const REOPEN_LOG_EVERY_MS = 60_000;

export class FlagChangeRefused extends Error {
  override name = 'FlagChangeRefused';
}

/** Unleash saved the change, but its client API does not serve it to the instances' client token. */
export class FlagChangeNotServed extends Error {
  override name = 'FlagChangeNotServed';
}

/** The writes Unleash accepted, in words an operator can act on. */
function describeApplied(applied: readonly AppliedStep[], setting: FlagSetting, env: Env): string {
  const where = `environment "${env.UNLEASH_ENVIRONMENT}"`;
  const words: Record<AppliedStep, string> = {
    created: `created the flag in project "${env.UNLEASH_PROJECT}" (served off: new orders on legacy)`,
    off: `turned the flag off in ${where}: every new order is on legacy`,
    strategy: `wrote its rollout in ${where} (${setting.mode} ${setting.rolloutPercent}%${setting.mode === 'legacy' ? ', kept while the flag is off' : ''})`,
    on: `turned the flag on in ${where}`,
  };
  return applied.map((step) => words[step]).join('; ');
}

/** The configured source of the handler flag, evaluated by one shared unleash-client per process. */
export function createHandlerFlag(deps: { env: Env; db: Db; logger: Logger; metrics: Metrics; instanceId: string }): HandlerFlag {
  const { env, logger, metrics } = deps;
  const kind: FlagSourceKind = env.UNLEASH_URL ? 'unleash' : 'settle';
  const admin: UnleashAdmin | null =
    env.UNLEASH_URL && env.UNLEASH_ADMIN_TOKEN
      ? createUnleashAdmin({ url: env.UNLEASH_URL, token: env.UNLEASH_ADMIN_TOKEN, project: env.UNLEASH_PROJECT, environment: env.UNLEASH_ENVIRONMENT })
      : null;
  let source: FlagSource | null = null;
  let starting: Promise<void> | null = null;
  let startedUp = false;
  /** The self-served source's stored flags, read before the API listens. */
  let stored: FeatureInterface[] | null = null;
  let closed = false;
  const emptyStatus: FlagSourceStatus = { kind, ready: false, up: null, lastRefreshAt: null, lastError: null, consecutiveErrors: 0 };

  metrics.flagSourceUp.set({ source: kind }, 0);
  const listener = {
    onFetchError(error: string, first: boolean, status: FlagSourceStatus) {
      metrics.flagFetchErrors.inc({ source: kind });
      metrics.flagSourceUp.set({ source: kind }, 0);
      if (!first) return;
      const known = source ? settingOf(source.unleash.getFeatureToggleDefinition(NEW_HANDLER_FLAG)) : null;
      logger.warn(
        { source: kind, err: error, lastRefreshAt: status.lastRefreshAt, flag: NEW_HANDLER_FLAG },
        known && status.ready
          ? `flag source unreachable: new orders follow the last known flag (${known.mode} ${known.rolloutPercent}%)`
          : `flag source unreachable and no flag known: new orders get HANDLER_MODE=${env.HANDLER_MODE}`,
      );
    },
    onRecovered(status: FlagSourceStatus) {
      logger.info({ source: kind, lastRefreshAt: status.lastRefreshAt }, 'flag source reachable again');
    },
    onRefreshed() {
      metrics.flagSourceUp.set({ source: kind }, 1);
    },
    onReopenScheduled(attempt: number, delayMs: number, error: string) {
      // A revoked token is retried for as long as it lasts: one line a minute says so.
      const now = Date.now();
      if (attempt > 1 && now - lastReopenLogAt < REOPEN_LOG_EVERY_MS) {
        reopensNotLogged += 1;
        return;
      }
      logger.warn(
        { source: kind, err: error, attempt, retryInMs: delayMs, retriesNotLogged: reopensNotLogged, flag: NEW_HANDLER_FLAG },
        'flag source refused the client token and the SDK stopped polling: reopening it; new orders follow the last known flag meanwhile',
      );
      lastReopenLogAt = now;
      reopensNotLogged = 0;
    },
  };
  let lastReopenLogAt = 0;
  let reopensNotLogged = 0;

  function open(url: string, token: string | null, bootstrap: FeatureInterface[]) {
    source = openFlagSource(
      {
        kind,
        url,
        token,
        refreshMs: env.UNLEASH_REFRESH_MS,
        environment: env.UNLEASH_ENVIRONMENT,
        instanceId: deps.instanceId,
        // Settle's own flags live in its database: nothing to keep on disk.
        backupDir: kind === 'unleash' ? env.UNLEASH_BACKUP_DIR : null,
        bootstrap,
        sendMetrics: kind === 'unleash',
      },
      listener,
    );
  }

  /**
   * Read back what Unleash serves the instances' client token (what every SDK polls) and say why
   * it is not `setting`, or null when it is. Unleash's client API may lag its Admin API briefly,
   * so a differing flag is read again until SERVED_WITHIN_MS; another environment or project is
   * final at once. A read that fails proves nothing either way: logged, not an error.
   */
  async function servedProblem(unleashAdmin: UnleashAdmin, setting: FlagSetting): Promise<string | null> {
    const saved = `saved in Unleash environment "${env.UNLEASH_ENVIRONMENT}" (project "${env.UNLEASH_PROJECT}")`;
    const deadline = Date.now() + SERVED_WITHIN_MS;
    for (;;) {
      let served: ServedToClients;
      try {
        served = await unleashAdmin.servedToClients(NEW_HANDLER_FLAG, env.UNLEASH_API_TOKEN!);
      } catch (err) {
        logger.warn({ flag: NEW_HANDLER_FLAG, err: err instanceof Error ? err.message : String(err) }, 'handler flag saved in Unleash; could not read back what the instances are served');
        return null;
      }
      if (served.environment !== null && served.environment !== env.UNLEASH_ENVIRONMENT) {
        return `${saved}, but instances read environment "${served.environment}" with their client token (UNLEASH_API_TOKEN): the change does not reach them. Set UNLEASH_ENVIRONMENT=${served.environment} or use a client token of "${env.UNLEASH_ENVIRONMENT}"`;
      }
      if (served.projects !== null && !served.projects.includes('*') && !served.projects.includes(env.UNLEASH_PROJECT)) {
        return `${saved}, but instances read project(s) ${served.projects.map((p) => `"${p}"`).join(', ')} with their client token (UNLEASH_API_TOKEN): the change does not reach them. Set UNLEASH_PROJECT or use a client token of "${env.UNLEASH_PROJECT}"`;
      }
      const seen = settingOf(served.flag ?? undefined);
      if (seen?.mode === setting.mode && seen.rolloutPercent === setting.rolloutPercent) return null;
      if (Date.now() >= deadline) {
        return `${saved}, but instances read ${seen ? `${seen.mode} ${seen.rolloutPercent}%` : 'no such flag'} with their client token ${SERVED_WITHIN_MS / 1000} s later: check the token's environment and project, or a proxy (Unleash Edge) in between`;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const view = (): FlagView => {
    const definition = source?.status().ready ? source.unleash.getFeatureToggleDefinition(NEW_HANDLER_FLAG) : undefined;
    const setting = settingOf(definition);
    return {
      flag: NEW_HANDLER_FLAG,
      source: kind,
      mode: setting?.mode ?? env.HANDLER_MODE,
      rolloutPercent: setting?.rolloutPercent ?? (env.HANDLER_MODE === 'new' ? 100 : 0),
      defined: setting !== null,
      fallbackHandler: env.HANDLER_MODE,
      refreshIntervalMs: env.UNLEASH_REFRESH_MS,
      status: source?.status() ?? emptyStatus,
    };
  };

  return {
    source: kind,
    refreshIntervalMs: env.UNLEASH_REFRESH_MS,
    async load() {
      if (kind === 'settle') stored = (await listFeatureFlags(deps.db)).map(toClientFeature);
    },
    startingUp: () => starting !== null && !startedUp,
    started: () => (starting ? starting.catch(() => {}) : Promise.resolve()),
    start(selfUrl) {
      starting ??= (async () => {
        if (closed) return;
        if (kind === 'unleash') {
          open(env.UNLEASH_URL!, env.UNLEASH_API_TOKEN ?? null, []);
        } else {
          if (!selfUrl) throw new Error('the self-served flag source needs the API base URL');
          const base = await selfUrl;
          // Known at once from the database (read before the API listens, unless `load` was
          // skipped); the SDK then polls this API's own client endpoint.
          const rows = stored ?? (await listFeatureFlags(deps.db)).map(toClientFeature);
          // Closed meanwhile (a shutdown during start-up): open nothing.
          if (closed) return;
          open(`${base.replace(/\/$/, '')}/api/`, env.UNLEASH_API_TOKEN ?? null, rows);
        }
        const ready = await source!.waitUntilReady(env.UNLEASH_STARTUP_TIMEOUT_MS);
        const v = view();
        if (ready) logger.info({ source: kind, flag: NEW_HANDLER_FLAG, mode: v.mode, rolloutPercent: v.rolloutPercent, defined: v.defined }, 'handler flag ready');
        else logger.warn({ source: kind, timeoutMs: env.UNLEASH_STARTUP_TIMEOUT_MS }, `handler flag not known yet: new orders get HANDLER_MODE=${env.HANDLER_MODE} until it is`);
      })().finally(() => {
        startedUp = true;
      });
      return starting;
    },
    choose(userId) {
      const s = source;
      const definition = s?.status().ready ? s.unleash.getFeatureToggleDefinition(NEW_HANDLER_FLAG) : undefined;
      if (!s || !definition) return { handler: env.HANDLER_MODE, shadow: false, basis: 'default' };
      const variant = s.unleash.getVariant(NEW_HANDLER_FLAG, { userId });
      if (!variant.feature_enabled) return { handler: 'legacy', shadow: false, basis: 'flag' };
      if (variant.name === ROLLOUT_VARIANT.shadow) return { handler: 'legacy', shadow: true, basis: 'flag' };
      return { handler: 'new', shadow: false, basis: 'flag' };
    },
    view,
    async set(db, change) {
      const setting: FlagSetting = { mode: change.mode, rolloutPercent: change.rolloutPercent };
      const before = view();
      if (kind === 'unleash') {
        if (!admin) throw new FlagChangeRefused('the flag lives in Unleash and UNLEASH_ADMIN_TOKEN is not set: change it in Unleash');
        const audit = (outcome: Record<string, unknown>) =>
          recordAdminAction(db, {
            actor: change.actor,
            action: 'flags.set',
            target: `flag:${NEW_HANDLER_FLAG}`,
            reason: change.reason,
            details: { source: kind, ...setting, before: { mode: before.mode, rolloutPercent: before.rolloutPercent, defined: before.defined }, ...outcome },
          });
        let applied: AppliedStep[];
        try {
          applied = await admin.apply(NEW_HANDLER_FLAG, setting);
        } catch (err) {
          if (!(err instanceof UnleashAdminError) || err.applied.length === 0) throw err;
          // Unleash accepted part of the change and that part is live: it is audited like any
          // change, and the answer says what took effect rather than "refused".
          await audit({ outcome: 'partly_applied', applied: err.applied, error: err.message });
          const message = `Unleash accepted only part of the change, and that part is live (audited): ${describeApplied(err.applied, setting, env)}. Then: ${err.message}`;
          logger.error({ flag: NEW_HANDLER_FLAG, source: kind, ...setting, applied: err.applied, actor: change.actor, err: err.message }, 'handler flag change partly applied');
          throw new UnleashAdminError(err.status, message, err.applied);
        }
        await audit({ applied });
        const notServed = await servedProblem(admin, setting);
        if (notServed) {
          logger.error({ flag: NEW_HANDLER_FLAG, source: kind, ...setting, actor: change.actor, problem: notServed }, 'handler flag saved in Unleash, but not what the instances are served');
          throw new FlagChangeNotServed(notServed);
        }
      } else {
        await db.transaction().execute(async (trx) => {
          const previous = await findFeatureFlag(trx, NEW_HANDLER_FLAG);
          const saved = await saveFeatureFlag(trx, { name: NEW_HANDLER_FLAG, ...setting, updatedBy: change.actor });
          await recordAdminAction(trx, {
            actor: change.actor,
            action: 'flags.set',
            target: `flag:${NEW_HANDLER_FLAG}`,
            reason: change.reason,
            details: {
              source: kind,
              ...setting,
              version: saved.version,
              before: previous ? { mode: previous.mode, rolloutPercent: previous.rollout_percent, version: previous.version } : null,
            },
          });
        });
      }
      logger.info({ flag: NEW_HANDLER_FLAG, source: kind, ...setting, actor: change.actor, reason: change.reason }, 'handler flag changed');
      return setting;
    },
    close() {
      closed = true;
      source?.close();
    },
  };
}
