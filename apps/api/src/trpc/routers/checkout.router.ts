import { z } from 'zod';
import { createCheckout } from '../../payments/checkout.service.js';
import { domainError, router, userProcedure } from '../trpc.js';

export const checkoutRouter = router({
  create: userProcedure
    .input(z.object({ productId: z.string().min(1).max(100), quantity: z.number().int().min(1).max(100).default(1) }))
    .mutation(async ({ ctx, input }) => {
      const product = ctx.deps.catalogue.get(input.productId);
      if (!product) throw domainError('NOT_FOUND', `no product ${input.productId}`);
      const result = await createCheckout(ctx.deps, ctx.user.id, product, input.quantity);
      if (!result.ok) throw domainError(result.code, result.message);
      return { orderId: result.orderId, checkoutSessionId: result.checkoutSessionId, url: result.url };
    }),
});
