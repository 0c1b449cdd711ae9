/** Settings `pnpm dev` fills in when they are unset. Development only; never used in production. */
export const DEV_USER_JWT_SECRET = 'dev-only-user-jwt-secret-change-me';
export const DEV_ADMIN = { email: 'admin@settle.local', password: 'settle-dev-password' };

/**
 * The console's Vite dev server port for an API port: 3000 → 5173 (Vite's usual port), and a
 * second instance with `PORT=3400` gets 5573, so two checkouts never share a console. Both
 * `apps/admin/vite.config.ts` and `pnpm dev`'s printed URL use this one function.
 */
export function devConsolePort(apiPort: number, env: { CONSOLE_PORT?: string | undefined } = {}): number {
  return env.CONSOLE_PORT ? Number(env.CONSOLE_PORT) : apiPort + 2173;
}
