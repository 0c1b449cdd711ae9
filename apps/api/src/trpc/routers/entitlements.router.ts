import { getEntitlement } from '@settle/db';
import { router, userProcedure } from '../trpc.js';

export const entitlementsRouter = router({
  get: userProcedure.query(async ({ ctx }) => {
    const e = await getEntitlement(ctx.deps.database.db, ctx.user.id);
    return {
      credits: Number(e?.credits ?? 0),
      creditDebt: Number(e?.credit_debt ?? 0),
      plan: e?.plan ?? null,
      subscriptionStatus: e?.subscription_status ?? null,
      /** Until when the plan is paid (ISO-8601), from Stripe's current period end. */
      planPeriodEnd: e?.plan_period_end ? new Date(e.plan_period_end).toISOString() : null,
    };
  }),
});
