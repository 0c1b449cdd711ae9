import type { FeatureInterface } from 'unleash-client/lib/feature.js';
import { rolloutStrategy, type FlagSetting } from './flag-definition.js';

export type UnleashAdminConfig = {
  /** Unleash base URL as configured for the SDK (`…/api/` or the server root). */
  url: string;
  token: string;
  project: string;
  environment: string;
};

/** A write of `apply` that Unleash accepted, in the order they are made. */
export type AppliedStep = 'created' | 'off' | 'strategy' | 'on';

/**
 * A refusal or failure of Unleash's Admin API, with its HTTP status (0: unreachable) and the
 * writes of the same change Unleash had already accepted (they took effect).
 */
export class UnleashAdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly applied: readonly AppliedStep[] = [],
  ) {
    super(message);
    this.name = 'UnleashAdminError';
  }
}

/** What Unleash's client API serves the SDKs' token: its environment and the flag (null: not served). */
export type ServedToClients = { environment: string | null; projects: string[] | null; flag: FeatureInterface | null };

type StrategyRow = { id: string; name: string; disabled?: boolean | null };

/**
 * Changes a flag on a real Unleash server through its Admin API: creates the flag if missing,
 * creates or updates its flexibleRollout strategy in the environment, and turns the flag on or off
 * there. The SDK of every Settle instance picks the change up at its next poll.
 */
export function createUnleashAdmin(config: UnleashAdminConfig) {
  const root = config.url.replace(/\/+$/, '').replace(/\/api$/, '');
  const project = encodeURIComponent(config.project);
  const env = encodeURIComponent(config.environment);

  async function call(method: string, path: string, body?: unknown, token = config.token): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${root}/api${path}`, {
        method,
        headers: { authorization: token, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new UnleashAdminError(0, `Unleash admin API unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  async function expect(method: string, path: string, body: unknown, ok: (status: number) => boolean) {
    const r = await call(method, `/admin${path}`, body);
    if (!ok(r.status)) {
      const detail = typeof r.json === 'object' && r.json && 'message' in r.json ? String(r.json.message) : JSON.stringify(r.json);
      throw new UnleashAdminError(r.status, `Unleash admin API ${method} ${path} answered ${r.status}: ${detail}`);
    }
    return r;
  }

  return {
    /**
     * Write the setting. On a failure part way, the error lists the writes Unleash had already
     * accepted (`applied`): they are live, and the caller must record them.
     */
    async apply(flag: string, setting: FlagSetting): Promise<AppliedStep[]> {
      const applied: AppliedStep[] = [];
      const step = async (name: AppliedStep, write: () => Promise<unknown>) => {
        await write();
        applied.push(name);
      };
      try {
        const name = encodeURIComponent(flag);
        const features = `/projects/${project}/features`;
        // 409: it exists already.
        const created = await expect('POST', features, { name: flag, type: 'release', description: 'Settle: which payment handler new orders get' }, (s) => s < 300 || s === 409);
        // A new flag is served (off) at once: new orders go to legacy from here.
        if (created.status < 300) applied.push('created');
        const strategiesPath = `${features}/${name}/environments/${env}/strategies`;
        const strategies = (await expect('GET', strategiesPath, undefined, (s) => s === 200)).json as StrategyRow[];
        const body = rolloutStrategy(flag, setting);
        const existing = strategies.find((s) => s.name === 'flexibleRollout');
        const writeStrategy = () =>
          step('strategy', () =>
            existing ? expect('PUT', `${strategiesPath}/${encodeURIComponent(existing.id)}`, body, (s) => s < 300) : expect('POST', strategiesPath, body, (s) => s < 300),
          );
        const toggle = (state: 'on' | 'off') => step(state, () => expect('POST', `${features}/${name}/environments/${env}/${state}`, undefined, (s) => s < 300));
        // Every state Unleash serves on the way must be safe for the orders of that moment. The kill
        // switch turns the flag off first: writing the strategy first (its variant is `new` for any
        // mode but shadow) would serve "on, new, 100%" from shadow until the flag is off, and for
        // good when turning it off fails. Other modes write the strategy, then turn it on.
        if (setting.mode === 'legacy') {
          await toggle('off');
          await writeStrategy();
        } else {
          await writeStrategy();
          await toggle('on');
        }
        return applied;
      } catch (err) {
        if (err instanceof UnleashAdminError) throw new UnleashAdminError(err.status, err.message, applied);
        throw err;
      }
    },

    /**
     * What Unleash's client API serves a client token (the SDKs') now, as the SDK polls it: the
     * environment and projects that token reads, and the flag.
     */
    async servedToClients(flag: string, clientToken: string): Promise<ServedToClients> {
      const r = await call('GET', '/client/features', undefined, clientToken);
      if (r.status !== 200) throw new UnleashAdminError(r.status, `Unleash client API GET /client/features answered ${r.status} to the client token`);
      const body = (r.json ?? {}) as { features?: FeatureInterface[]; query?: { environment?: unknown; project?: unknown } };
      return {
        environment: typeof body.query?.environment === 'string' ? body.query.environment : null,
        projects: Array.isArray(body.query?.project) ? body.query.project.map(String) : null,
        flag: body.features?.find((f) => f.name === flag) ?? null,
      };
    },
  };
}

export type UnleashAdmin = ReturnType<typeof createUnleashAdmin>;
