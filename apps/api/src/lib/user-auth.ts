import { jwtVerify } from 'jose';

export type EndUser = { id: string };

/**
 * The host application signs end-user tokens with HS256 and `sub` = its user id. Returns null
 * for a missing, malformed, expired or wrongly signed token.
 */
export async function verifyUserToken(authorization: string | undefined, secret: Uint8Array | null): Promise<EndUser | null> {
  if (!secret || !authorization?.startsWith('Bearer ')) return null;
  const token = authorization.slice('Bearer '.length).trim();
  if (token.split('.').length !== 3) return null;
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    return typeof payload.sub === 'string' && payload.sub.length > 0 && payload.sub.length <= 200 ? { id: payload.sub } : null;
  } catch {
    return null;
  }
}
