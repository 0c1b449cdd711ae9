import { ADMIN_ROLES, adminTokenNameTaken, createAdminToken, listAdminTokens, recordAdminAction, revokeAdminToken, type AdminTokenSummary } from '@settle/db';
import { z } from 'zod';
import { hasRole } from '../../lib/admin-auth.js';
import { adminProcedure, domainError, router } from '../trpc.js';

const Reason = z.string().trim().min(3, 'a reason of at least 3 characters is required').max(500);
const Name = z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/, 'a name of 2-64 letters, digits, dots, dashes or underscores');
const dto = (t: AdminTokenSummary) => ({
  id: t.id,
  name: t.name,
  role: t.role,
  owner: t.owner,
  createdBy: t.createdBy,
  createdAt: t.createdAt.toISOString(),
  lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
  revokedAt: t.revokedAt?.toISOString() ?? null,
});

/**
 * Admin API tokens for automation, managed by owners. A token belongs to the account that
 * created it, acts with at most that account's role and dies with it (disabling the account
 * revokes its tokens). The plain token is shown once, at creation; only its hash is stored.
 */
export const adminTokensRouter = router({
  list: adminProcedure('owner').query(async ({ ctx }) => (await listAdminTokens(ctx.deps.database.db)).map(dto)),

  create: adminProcedure('owner')
    .input(z.object({ name: Name, role: z.enum(ADMIN_ROLES), reason: Reason }))
    .mutation(async ({ ctx, input }) => {
      const adminId = ctx.admin.adminId;
      if (adminId === undefined) throw domainError('PRECONDITION', 'a token belongs to an account: create it from a console session or an account’s token');
      if (!hasRole(ctx.admin, input.role)) throw domainError('FORBIDDEN', `you cannot create a token with more than your own role (${ctx.admin.role})`);
      const created = await ctx.deps.database.db.transaction().execute(async (trx) => {
        if (await adminTokenNameTaken(trx, input.name)) return null;
        const t = await createAdminToken(trx, { name: input.name, role: input.role, createdBy: ctx.admin.actor, adminId });
        await recordAdminAction(trx, { actor: ctx.admin.actor, action: 'tokens.create', target: `token:${input.name}`, reason: input.reason, details: { role: input.role, tokenId: t.id } });
        return t;
      });
      if (!created) throw domainError('CONFLICT', `a token named ${input.name} exists already`);
      return { id: created.id, name: input.name, role: input.role, token: created.token };
    }),

  revoke: adminProcedure('owner')
    .input(z.object({ name: Name, reason: Reason }))
    .mutation(async ({ ctx, input }) => {
      const revoked = await ctx.deps.database.db.transaction().execute(async (trx) => {
        const done = await revokeAdminToken(trx, input.name);
        if (done) await recordAdminAction(trx, { actor: ctx.admin.actor, action: 'tokens.revoke', target: `token:${input.name}`, reason: input.reason, details: {} });
        return done;
      });
      if (!revoked) throw domainError('NOT_FOUND', `no active token named ${input.name}`);
      return { name: input.name, revoked: true as const };
    }),
});
