import { countOrdersByHandler, countShadowDisagreementsByKind, listShadowDisagreements } from '@settle/db';
import type { DisagreementKind } from '@settle/payments-core';
import { z } from 'zod';
import { adminProcedure, router } from '../trpc.js';

/** What each disagreement kind means for an operator reading the report. */
const KIND_DESCRIPTIONS: Record<DisagreementKind, string> = {
  legacy_confirms_unpaid_session: 'legacy would confirm an unpaid async session',
  legacy_paid_new_failed: 'legacy counts as paid a payment the new handler sees fail or be canceled',
  review_differs: 'one handler parks the order for review, the other does not',
};

const describe = (kind: string) => KIND_DESCRIPTIONS[kind as DisagreementKind] ?? kind;

export const adminRolloutRouter = router({
  /**
   * How the rollout is going: orders and their outcomes per handler (legacy orders shadowed by
   * the new handler counted apart), and the shadow's disagreements grouped by kind. `since` picks
   * one cohort: the orders created since then, and their disagreements whenever recorded.
   */
  report: adminProcedure('viewer')
    .input(
      z
        .object({
          since: z.string().datetime({ message: 'since must be an ISO-8601 time' }).optional(),
          examplesPerKind: z.number().int().min(0).max(50).default(5),
        })
        .default({ examplesPerKind: 5 }),
    )
    .query(async ({ ctx, input }) => {
      const db = ctx.deps.database.db;
      const since = input.since ? new Date(input.since) : undefined;
      const counts = await countOrdersByHandler(db, { since });
      const handlers = (['legacy', 'new'] as const).map((handler) => {
        const rows = counts.filter((c) => c.handler === handler);
        const byStatus: Record<string, number> = {};
        for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + r.orders;
        return {
          handler,
          orders: rows.reduce((n, r) => n + r.orders, 0),
          shadowed: rows.filter((r) => r.shadowed).reduce((n, r) => n + r.orders, 0),
          byStatus,
        };
      });
      const kinds = await countShadowDisagreementsByKind(db, { ordersSince: since });
      const disagreements = await Promise.all(
        kinds.map(async (k) => ({
          kind: k.kind,
          description: describe(k.kind),
          count: k.disagreements,
          orders: k.orders,
          examples: (input.examplesPerKind ? await listShadowDisagreements(db, { ordersSince: since, kind: k.kind, limit: input.examplesPerKind }) : []).map((d) => ({
            orderId: d.order_id,
            eventId: d.event_id,
            legacyStatus: d.legacy_status,
            newStatus: d.new_status,
            legacyOutcome: d.legacy_outcome,
            newOutcome: d.new_outcome,
            at: new Date(d.created_at).toISOString(),
          })),
        })),
      );
      return {
        since: since?.toISOString() ?? null,
        flag: (({ mode, rolloutPercent, source, defined }) => ({ mode, rolloutPercent, source, defined }))(ctx.deps.flags.view()),
        handlers,
        shadow: {
          orders: handlers.find((h) => h.handler === 'legacy')?.shadowed ?? 0,
          disagreements: disagreements.reduce((n, d) => n + d.count, 0),
          byKind: disagreements,
        },
      };
    }),
});
