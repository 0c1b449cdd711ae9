import { z } from 'zod';
import { createBillingPortalSession } from '../../payments/billing-portal.service.js';
import { resumeSubscription } from '../../payments/subscription-resume.service.js';
import { domainError, router, userProcedure } from '../trpc.js';

export const billingRouter = router({
  /** The caller's Stripe customer portal: `{url}` to send them to. */
  portal: userProcedure.mutation(async ({ ctx }) => {
    const r = await createBillingPortalSession(ctx.deps, ctx.user.id);
    if (!r.ok) throw domainError(r.code, r.message);
    return { url: r.url };
  }),

  /**
   * Bring back the caller's `unpaid`, `past_due` or `paused` subscription to `plan`: `url` is the
   * Stripe hosted invoice page to send them to (null when nothing is owed any more), `status` the
   * subscription's status at Stripe. NOT_FOUND without a subscription to the plan;
   * PRECONDITION_FAILED, saying why, for one in any other status; SERVICE_UNAVAILABLE when Stripe
   * cannot be reached.
   */
  resume: userProcedure
    .input(z.object({ plan: z.string().min(1).max(100) }))
    .mutation(async ({ ctx, input }) => {
      const r = await resumeSubscription(ctx.deps, ctx.user.id, input.plan);
      if (!r.ok) throw domainError(r.code, r.message);
      return { subscriptionId: r.subscriptionId, status: r.status, url: r.url, invoice: r.invoice };
    }),
});
