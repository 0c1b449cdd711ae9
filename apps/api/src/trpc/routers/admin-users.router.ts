import { ADMIN_ROLES, disableAdminUser, enableAdminUser, insertAdminUser, listAdminUsers, normalizeEmail, recordAdminAction, setAdminPassword, type AdminAccount } from '@settle/db';
import { z } from 'zod';
import { hashPassword, MIN_ADMIN_PASSWORD, passwordProblem } from '../../lib/password.js';
import { adminProcedure, domainError, router } from '../trpc.js';

const Reason = z.string().trim().min(3, 'a reason of at least 3 characters is required').max(500);
const Password = z.string().min(MIN_ADMIN_PASSWORD, `a password of at least ${MIN_ADMIN_PASSWORD} characters is required`).max(1024);
const Email = z.string().trim().min(3).max(320);
const dto = (a: AdminAccount) => ({
  id: a.id,
  email: a.email,
  role: a.role,
  createdAt: a.createdAt.toISOString(),
  disabledAt: a.disabledAt?.toISOString() ?? null,
});

/** Console accounts, managed by owners. Accounts are disabled, never deleted: the audit log names them. */
export const adminUsersRouter = router({
  list: adminProcedure('owner').query(async ({ ctx }) => (await listAdminUsers(ctx.deps.database.db)).map(dto)),

  create: adminProcedure('owner')
    .input(
      z.object({
        email: z.string().trim().email().max(320),
        password: Password,
        role: z.enum(ADMIN_ROLES),
        reason: Reason,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const weak = passwordProblem(input.password, input.email);
      if (weak) throw domainError('INVALID', weak);
      const passwordHash = await hashPassword(input.password);
      const created = await ctx.deps.database.db.transaction().execute(async (trx) => {
        const account = await insertAdminUser(trx, { email: input.email, passwordHash, role: input.role });
        if (account) {
          await recordAdminAction(trx, { actor: ctx.admin.actor, action: 'users.create', target: `admin:${account.email}`, reason: input.reason, details: { role: input.role } });
        }
        return account;
      });
      if (!created) throw domainError('CONFLICT', `an admin account for ${normalizeEmail(input.email)} exists already`);
      return dto(created);
    }),

  disable: adminProcedure('owner')
    .input(z.object({ email: z.string().trim().min(3).max(320), reason: Reason }))
    .mutation(async ({ ctx, input }) => {
      const email = normalizeEmail(input.email);
      const disabled = await ctx.deps.database.db.transaction().execute(async (trx) => {
        const account = await disableAdminUser(trx, email);
        // One rule for sessions and API tokens (a token's principal has its account's id, not its
        // e-mail): nobody locks their own account (perhaps the last owner) out. Rolled back.
        if (account && account.id === ctx.admin.adminId) throw domainError('INVALID', 'you cannot disable your own account');
        if (account) await recordAdminAction(trx, { actor: ctx.admin.actor, action: 'users.disable', target: `admin:${email}`, reason: input.reason, details: { role: account.role } });
        return account;
      });
      if (!disabled) throw domainError('NOT_FOUND', `no active admin account for ${email}`);
      return dto(disabled);
    }),

  /** Let a disabled account sign in again (with its old password, or reset it too). */
  enable: adminProcedure('owner')
    .input(z.object({ email: Email, reason: Reason }))
    .mutation(async ({ ctx, input }) => {
      const email = normalizeEmail(input.email);
      const enabled = await ctx.deps.database.db.transaction().execute(async (trx) => {
        const account = await enableAdminUser(trx, email);
        if (account) await recordAdminAction(trx, { actor: ctx.admin.actor, action: 'users.enable', target: `admin:${email}`, reason: input.reason, details: { role: account.role } });
        return account;
      });
      if (!enabled) throw domainError('NOT_FOUND', `no disabled admin account for ${email}`);
      return dto(enabled);
    }),

  /** An owner sets a new password for an account (a forgotten one); its sessions end. The password itself is never audited. */
  resetPassword: adminProcedure('owner')
    .input(z.object({ email: Email, password: Password, reason: Reason }))
    .mutation(async ({ ctx, input }) => {
      const email = normalizeEmail(input.email);
      const weak = passwordProblem(input.password, email);
      if (weak) throw domainError('INVALID', weak);
      const passwordHash = await hashPassword(input.password);
      const updated = await ctx.deps.database.db.transaction().execute(async (trx) => {
        const account = await setAdminPassword(trx, email, passwordHash);
        if (account) await recordAdminAction(trx, { actor: ctx.admin.actor, action: 'users.reset_password', target: `admin:${email}`, reason: input.reason, details: { role: account.role } });
        return account;
      });
      if (!updated) throw domainError('NOT_FOUND', `no admin account for ${email}`);
      return dto(updated);
    }),
});
