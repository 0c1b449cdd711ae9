import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

/** How new orders are routed: all legacy, a share on the new handler, or a share shadowed. */
export type FlagMode = 'legacy' | 'new' | 'shadow';
export const FLAG_MODES = ['legacy', 'new', 'shadow'] as const satisfies readonly FlagMode[];

/** A flag Settle serves itself, in Unleash's client API format, when no Unleash server is configured. */
export interface FeatureFlagTable {
  name: string;
  enabled: boolean;
  rollout_percent: number;
  mode: FlagMode;
  updated_at: Timestamp;
  updated_by: string;
  version: Generated<number>;
}
export type FeatureFlagRow = Selectable<FeatureFlagTable>;

/** Where the shadow (new) handler would have parted ways with the authoritative legacy one. */
export interface ShadowDisagreementTable {
  id: Generated<number>;
  order_id: string;
  event_id: string;
  kind: string;
  legacy_status: string;
  new_status: string;
  legacy_outcome: string;
  new_outcome: string;
  created_at: Timestamp;
}
export type ShadowDisagreementRow = Selectable<ShadowDisagreementTable>;
