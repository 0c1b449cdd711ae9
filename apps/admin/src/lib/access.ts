import type { RouterOutputs } from '../trpc.js';

/** The signed-in admin, as the API reports it. */
export type Me = RouterOutputs['auth']['me'];
export type Role = Me['role'];

/** Roles in rising order of power; the API enforces the same order (`adminProcedure(role)`). */
const RANK: Record<Role, number> = { viewer: 0, operator: 1, owner: 2 };

/** Whether the console shows an action: the API decides, this only hides what would be refused. */
export const can = (me: Me, role: Role) => RANK[me.role] >= RANK[role];
