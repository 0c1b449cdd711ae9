import { entitlementsView, getEntitlement } from '@settle/db';
import { z } from 'zod';
import { adminProcedure, router } from '../trpc.js';
import { ledgerPage } from './entitlements.router.js';

/** An end user as Settle knows them: entitlements and the credit ledger behind them. */
export const adminCustomersRouter = router({
  get: adminProcedure('viewer')
    .input(z.object({ userId: z.string().trim().min(1).max(255), cursor: z.string().max(300).nullish(), limit: z.number().int().min(1).max(200).default(50) }))
    .query(async ({ ctx, input }) => {
      const db = ctx.deps.database.db;
      const row = await getEntitlement(db, input.userId);
      return {
        userId: input.userId,
        known: Boolean(row),
        entitlements: entitlementsView(row),
        ledger: await ledgerPage(db, input.userId, { cursor: input.cursor, limit: input.limit }),
      };
    }),
});
