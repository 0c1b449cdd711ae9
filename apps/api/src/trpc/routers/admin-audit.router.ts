import { listAdminAudit } from '@settle/db';
import { z } from 'zod';
import { adminProcedure, domainError, router } from '../trpc.js';

const Cursor = z.string().max(40).nullish();
const decodeAuditCursor = (raw: string): number => {
  const id = Number(Buffer.from(raw, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(id) || id <= 0) throw domainError('INVALID', 'cursor is not valid');
  return id;
};

/** Who did what, when and why: every admin action, newest first. */
export const adminAuditRouter = router({
  list: adminProcedure('viewer')
    .input(
      z
        .object({
          actor: z.string().trim().max(340).optional(),
          /** An exact action, or a prefix ending in `.` such as `orders.`. */
          action: z.string().trim().max(100).optional(),
          target: z.string().trim().max(300).optional(),
          from: z.string().datetime().optional(),
          to: z.string().datetime().optional(),
          cursor: Cursor,
          limit: z.number().int().min(1).max(200).default(50),
        })
        .default({ limit: 50 }),
    )
    .query(async ({ ctx, input }) => {
      const rows = await listAdminAudit(ctx.deps.database.db, {
        actor: input.actor || undefined,
        action: input.action || undefined,
        target: input.target || undefined,
        from: input.from ? new Date(input.from) : undefined,
        to: input.to ? new Date(input.to) : undefined,
        afterId: input.cursor ? decodeAuditCursor(input.cursor) : undefined,
        limit: input.limit + 1,
      });
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return {
        items: page.map((r) => ({
          id: Number(r.id),
          actor: r.actor,
          action: r.action,
          target: r.target,
          reason: r.reason,
          details: r.details,
          at: new Date(r.created_at).toISOString(),
        })),
        nextCursor: rows.length > input.limit && last ? Buffer.from(String(last.id)).toString('base64url') : null,
      };
    }),
});
