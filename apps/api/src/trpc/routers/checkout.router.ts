import { countOpenOrdersForUser } from '@settle/db';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createCheckout, repeatedCheckout, type CheckoutResult } from '../../payments/checkout.service.js';
import { domainError, router, tooManyRequests, userProcedure } from '../trpc.js';

export const checkoutRouter = router({
  create: userProcedure
    .input(
      z.object({
        productId: z.string().min(1).max(100),
        quantity: z.number().int().min(1).max(100).default(1),
        /** The caller's key for this checkout: a repeat with it answers the first call's order and session. */
        idempotencyKey: z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces').optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const product = ctx.deps.catalogue.get(input.productId);
      if (!product) throw domainError('NOT_FOUND', `no product ${input.productId}`);
      const answer = (result: CheckoutResult) => {
        if (!result.ok) throw domainError(result.code, result.message);
        // `trial`: `{offered: true, days}`, or `{offered: false, days, reason}` when the plan's trial was had before; null without one.
        return { orderId: result.orderId, checkoutSessionId: result.checkoutSessionId, url: result.url, trial: result.trial };
      };
      // A repeat of a checkout already opened is not a new one: no rate limit, no open-orders cap.
      const repeat = input.idempotencyKey ? await repeatedCheckout(ctx.deps, ctx.user.id, input.idempotencyKey, product, input.quantity) : null;
      if (repeat) return answer(repeat);
      // Each checkout is a Stripe API call: a user cannot spend the account's Stripe rate limit.
      const wait = await ctx.limits?.checkout(ctx.user.id);
      if (wait) throw tooManyRequests(ctx, wait, 'too many checkouts for this user');
      const open = await countOpenOrdersForUser(ctx.deps.database.db, ctx.user.id);
      if (open >= ctx.deps.env.OPEN_ORDERS_PER_USER) {
        throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: `${open} unpaid orders are open for this user; pay or let one expire first` });
      }
      return answer(await createCheckout(ctx.deps, ctx.user.id, product, input.quantity, input.idempotencyKey));
    }),
});
