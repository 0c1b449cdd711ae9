import { createBillingPortalSession } from '../../payments/billing-portal.service.js';
import { domainError, router, userProcedure } from '../trpc.js';

export const billingRouter = router({
  /** The caller's Stripe customer portal: `{url}` to send them to. */
  portal: userProcedure.mutation(async ({ ctx }) => {
    const r = await createBillingPortalSession(ctx.deps, ctx.user.id);
    if (!r.ok) throw domainError(r.code, r.message);
    return { url: r.url };
  }),
});
