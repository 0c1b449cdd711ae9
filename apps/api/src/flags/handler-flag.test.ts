import { InMemStorageProvider, Unleash, type ClientFeaturesResponse } from 'unleash-client';
import { normalizedStrategyValue } from 'unleash-client/lib/strategy/util.js';
import { describe, expect, it } from 'vitest';
import { settingOf, toClientFeature, type FlagSetting } from './flag-definition.js';
import { NEW_HANDLER_FLAG } from './handler-flag.js';

const feature = (s: FlagSetting) => toClientFeature({ name: NEW_HANDLER_FLAG, enabled: s.mode !== 'legacy', mode: s.mode, rollout_percent: s.rolloutPercent });

/** The real SDK, fed the served flag without any network (refreshInterval 0: no polling). */
async function sdkWith(s: FlagSetting): Promise<Unleash> {
  const unleash = new Unleash({
    url: 'http://127.0.0.1:9/api/',
    appName: 'settle-test',
    refreshInterval: 0,
    disableMetrics: true,
    skipInstanceCountWarning: true,
    storageProvider: new InMemStorageProvider<ClientFeaturesResponse>(),
    bootstrap: { data: [feature(s)] },
  });
  await new Promise<void>((resolve) => unleash.once('ready', () => resolve()));
  return unleash;
}

const users = Array.from({ length: 300 }, (_, i) => `user_${i}`);

describe('the handler flag in Unleash format', () => {
  it('reads back every setting it serves', () => {
    for (const s of [
      { mode: 'legacy', rolloutPercent: 40 },
      { mode: 'new', rolloutPercent: 0 },
      { mode: 'new', rolloutPercent: 50 },
      { mode: 'shadow', rolloutPercent: 100 },
    ] as const) {
      expect(settingOf(feature(s))).toEqual(s);
    }
    expect(settingOf(undefined)).toBeNull();
    expect(feature({ mode: 'new', rolloutPercent: 25 }).strategies?.[0]?.parameters).toEqual({ rollout: '25', stickiness: 'userId', groupId: NEW_HANDLER_FLAG });
  });

  it('is evaluated by the SDK sticky on the user id: new, shadow and off', async () => {
    const atHalf = await sdkWith({ mode: 'new', rolloutPercent: 50 });
    for (const userId of users) {
      const v = atHalf.getVariant(NEW_HANDLER_FLAG, { userId });
      const inside = normalizedStrategyValue(userId, NEW_HANDLER_FLAG) <= 50;
      expect([v.feature_enabled, v.name]).toEqual(inside ? [true, 'new'] : [false, 'disabled']);
    }
    atHalf.destroy();

    const shadow = await sdkWith({ mode: 'shadow', rolloutPercent: 100 });
    expect(users.every((userId) => shadow.getVariant(NEW_HANDLER_FLAG, { userId }).name === 'shadow')).toBe(true);
    shadow.destroy();

    const off = await sdkWith({ mode: 'legacy', rolloutPercent: 100 });
    expect(users.some((userId) => off.getVariant(NEW_HANDLER_FLAG, { userId }).feature_enabled)).toBe(false);
    off.destroy();
  });
});
