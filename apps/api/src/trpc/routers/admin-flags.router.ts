import { FLAG_MODES, findFeatureFlag } from '@settle/db';
import { z } from 'zod';
import { FlagChangeNotServed, FlagChangeRefused } from '../../flags/handler-flag.js';
import { UnleashAdminError } from '../../flags/unleash-admin.js';
import { adminProcedure, domainError, router } from '../trpc.js';

const Reason = z.string().trim().min(3, 'a reason of at least 3 characters is required').max(500);

export const adminFlagsRouter = router({
  /**
   * The handler flag as this instance evaluates it: mode, rollout, source and its health. Any
   * admin role reads it (on-call must see whether the kill switch is on); only owners change it.
   */
  get: adminProcedure('viewer').query(async ({ ctx }) => {
    const v = ctx.deps.flags.view();
    const stored = v.source === 'settle' ? await findFeatureFlag(ctx.deps.database.db, v.flag) : undefined;
    return {
      flag: v.flag,
      mode: v.mode,
      rolloutPercent: v.rolloutPercent,
      defined: v.defined,
      source: v.source,
      fallbackHandler: v.fallbackHandler,
      refreshIntervalMs: v.refreshIntervalMs,
      ready: v.status.ready,
      sourceUp: v.status.up,
      lastRefreshAt: v.status.lastRefreshAt?.toISOString() ?? null,
      lastError: v.status.lastError,
      stored: stored
        ? { mode: stored.mode, rolloutPercent: stored.rollout_percent, version: stored.version, updatedBy: stored.updated_by, updatedAt: new Date(stored.updated_at).toISOString() }
        : null,
    };
  }),

  /**
   * Change how new orders are routed. `legacy` is the kill switch (every new order on legacy
   * within one flag poll); orders keep the handler they were created under.
   */
  set: adminProcedure('owner')
    .input(
      z
        .object({
          mode: z.enum(FLAG_MODES),
          rolloutPercent: z.number().int().min(0).max(100).optional(),
          reason: Reason,
        })
        .refine((i) => i.mode === 'legacy' || i.rolloutPercent !== undefined, {
          message: 'rolloutPercent is required for the new and shadow modes',
          path: ['rolloutPercent'],
        }),
    )
    .mutation(async ({ ctx, input }) => {
      const current = ctx.deps.flags.view();
      const rolloutPercent = input.rolloutPercent ?? (current.defined ? current.rolloutPercent : 0);
      try {
        const setting = await ctx.deps.flags.set(ctx.deps.database.db, { mode: input.mode, rolloutPercent, actor: ctx.admin.actor, reason: input.reason });
        return { ...setting, source: current.source, appliesWithinMs: ctx.deps.flags.refreshIntervalMs };
      } catch (err) {
        if (err instanceof FlagChangeRefused) throw domainError('PRECONDITION', err.message);
        if (err instanceof FlagChangeNotServed) throw domainError('UNAVAILABLE', err.message);
        if (err instanceof UnleashAdminError) {
          ctx.deps.logger.error({ status: err.status, err: err.message }, 'Unleash refused the flag change');
          throw domainError('UNAVAILABLE', err.message);
        }
        throw err;
      }
    }),
});
