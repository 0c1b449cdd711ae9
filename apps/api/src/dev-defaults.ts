/** Settings `pnpm dev` fills in when they are unset. Development only; never used in production. */
export const DEV_USER_JWT_SECRET = 'dev-only-user-jwt-secret-change-me';
export const DEV_ADMIN = { email: 'admin@settle.local', password: 'settle-dev-password' };
