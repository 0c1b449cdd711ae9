import type { FeatureFlagRow, FlagMode } from '@settle/db';
import type { FeatureInterface } from 'unleash-client/lib/feature.js';
import type { StrategyTransportInterface } from 'unleash-client/lib/strategy/strategy.js';

/*
 * How the handler flag is written down in Unleash's format: shared by the flag reader
 * (handler-flag.ts), the self-served client API and the Unleash Admin API client.
 */

/**
 * legacy: every new order on the legacy handler (the kill switch: the flag is off);
 * new: `rolloutPercent` of users on the new handler; shadow: every order stays on legacy and
 * `rolloutPercent` of users also get the new handler's decisions recorded beside it.
 */
export type FlagSetting = { mode: FlagMode; rolloutPercent: number };

/** Strategy variant names; evaluation reads them back with `getVariant`. */
export const ROLLOUT_VARIANT: Record<Exclude<FlagMode, 'legacy'>, string> = { new: 'new', shadow: 'shadow' };

/**
 * The flexibleRollout strategy for a setting, as Unleash stores and serves it: `rollout` is a
 * string, stickiness is the user id, and the group id is the flag name (so a user's bucket is
 * the same on every Settle instance and SDK). In legacy mode the flag is off and the strategy
 * keeps the last rollout.
 */
export function rolloutStrategy(flag: string, setting: FlagSetting) {
  const variant = { name: setting.mode === 'shadow' ? ROLLOUT_VARIANT.shadow : ROLLOUT_VARIANT.new, weight: 1000, stickiness: 'userId', weightType: 'variable' };
  return {
    name: 'flexibleRollout',
    constraints: [] as StrategyTransportInterface['constraints'],
    parameters: { rollout: String(setting.rolloutPercent), stickiness: 'userId', groupId: flag },
    variants: [variant],
  } satisfies StrategyTransportInterface;
}

/** A stored flag in Unleash's client API format (`GET /api/client/features`). */
export function toClientFeature(row: Pick<FeatureFlagRow, 'name' | 'enabled' | 'mode' | 'rollout_percent'>): FeatureInterface {
  return {
    name: row.name,
    type: 'release',
    description: 'Settle: which payment handler new orders get',
    enabled: row.enabled,
    project: 'default',
    stale: false,
    impressionData: false,
    strategies: [rolloutStrategy(row.name, { mode: row.mode, rolloutPercent: row.rollout_percent })],
    variants: [],
  };
}

/** Read a flag definition (as the SDK holds it) back as a setting; null when it is not defined. */
export function settingOf(definition: FeatureInterface | undefined): FlagSetting | null {
  if (!definition) return null;
  const strategies = (definition.strategies ?? []).filter((s) => !(s as { disabled?: boolean }).disabled);
  const rollout = strategies.find((s) => s.name === 'flexibleRollout');
  const rolloutPercent = rollout ? Number(rollout.parameters.rollout ?? 0) : strategies.some((s) => s.name === 'default') ? 100 : 0;
  if (!definition.enabled) return { mode: 'legacy', rolloutPercent };
  const shadow = strategies.some((s) => s.variants?.some((v) => v.name === ROLLOUT_VARIANT.shadow));
  return { mode: shadow ? 'shadow' : 'new', rolloutPercent };
}
