import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scryptAsync = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/** scrypt cost: N=2^15, r=8, p=1 (OWASP's recommendation), 64-byte key, 16-byte salt. */
const COST = { N: 32_768, r: 8, p: 1 } as const;
const KEY_LENGTH = 64;
const MAX_MEM = 128 * COST.N * COST.r * 2;

/** Hash a password as `scrypt$N$r$p$salt$key` (base64url), so the cost can change later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, KEY_LENGTH, { ...COST, maxmem: MAX_MEM });
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Compare in constant time; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  if (!Number.isInteger(cost.N) || !Number.isInteger(cost.r) || !Number.isInteger(cost.p) || expected.length === 0) return false;
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, { ...cost, maxmem: 128 * cost.N * cost.r * 2 });
  return timingSafeEqual(actual, expected);
}

let decoy: Promise<string> | null = null;

/**
 * A real hash of a random password, checked when the email is unknown, so a login takes as long
 * whether or not the account exists.
 */
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}

export const MIN_ADMIN_PASSWORD = 12;

/**
 * Why a console password is refused, or null: at least 12 characters, and not the account's
 * e-mail address, its local part, or anything containing the address.
 */
export function passwordProblem(password: string, email: string): string | null {
  if (password.length < MIN_ADMIN_PASSWORD) return `a password of at least ${MIN_ADMIN_PASSWORD} characters is required`;
  const p = password.trim().toLowerCase();
  const e = email.trim().toLowerCase();
  const local = e.split('@')[0] ?? e;
  if (p === local || p.includes(e)) return 'the password must not be the e-mail address';
  return null;
}
