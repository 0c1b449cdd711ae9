/**
 * `pnpm dev-token <userId>`: an end-user JWT (HS256, `sub` = user id, 12 h) signed with
 * USER_JWT_SECRET, or with the secret `pnpm dev` uses when none is set. For trying the API locally.
 */
import { SignJWT } from 'jose';
import { DEV_USER_JWT_SECRET } from './dev-defaults.js';

try {
  process.loadEnvFile?.();
} catch {
  // no .env file
}
const userId = process.argv[2];
if (!userId) {
  console.error('usage: dev-token <userId>');
  process.exit(2);
}
const secret = new TextEncoder().encode(process.env.USER_JWT_SECRET ?? DEV_USER_JWT_SECRET);
console.log(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().setExpirationTime('12h').sign(secret));
