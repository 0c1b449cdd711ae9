import { publicProcedure, router } from '../trpc.js';

export const productsRouter = router({
  list: publicProcedure.query(({ ctx }) =>
    ctx.deps.catalogue.list().map((p) => ({
      id: p.id,
      name: p.name,
      mode: p.mode,
      amount: p.amount,
      currency: p.currency,
      grant: p.grant,
    })),
  ),
});
