import type { StripeSimulator } from '@settle/stripe-simulator';
import type { SettleOptions } from './app.js';

/**
 * What `pnpm dev` (dev.ts) adds to Settle's composition root before main.ts builds it: the
 * simulator's "fail processing" marks as the `beforeApply` hook. Empty outside development.
 */
export const developmentOptions: Pick<SettleOptions, 'beforeApply'> = {};

/**
 * A `beforeApply` hook that fails the events the simulator marks (`pnpm simulate <journey> --fail
 * <type>`) until `pnpm simulate fix` clears the mark, so an operator can practise Replay.
 */
export function failSimulatorMarkedEvents(simulator: Pick<StripeSimulator, 'failsProcessing'>): NonNullable<SettleOptions['beforeApply']> {
  return (event) => {
    if (simulator.failsProcessing(event.id)) {
      throw new Error(`the Stripe simulator marks ${event.type} ${event.id} to fail processing; run \`pnpm simulate fix ${event.id}\`, then replay it`);
    }
  };
}
