/**
 * `pnpm dev-token <userId> [--read]`: an end-user JWT (HS256, `sub` = user id, 12 h) signed with
 * USER_JWT_SECRET, or with the secret `pnpm dev` uses when none is set. For trying the API locally.
 * `--read` mints a read-only token (`"settle_scope": "read"`), the kind a browser should hold: queries and
 * subscriptions only.
 */
import { SignJWT } from 'jose';
import { DEV_USER_JWT_SECRET } from './dev-defaults.js';

try {
  process.loadEnvFile?.();
} catch {
  // no .env file
}
const args = process.argv.slice(2);
const read = args.includes('--read');
const rest = args.filter((a) => a !== '--read');
const userId = rest[0];
if (!userId || rest.length > 1 || userId.startsWith('-')) {
  console.error('usage: dev-token <userId> [--read]   (--read: a read-only token, for browsers)');
  process.exit(2);
}
const secret = new TextEncoder().encode(process.env.USER_JWT_SECRET ?? DEV_USER_JWT_SECRET);
const claims = read ? { settle_scope: 'read' } : {};
console.log(await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().setExpirationTime('12h').sign(secret));
