import { jwtVerify } from 'jose';
import { bearerToken } from './bearer.js';

export type EndUser = { id: string };

export type UserTokenPolicy = {
  secret: Uint8Array | null;
  /** When set, tokens must carry this `aud` (USER_JWT_AUDIENCE). */
  audience?: string | undefined;
  /** When set, tokens must carry this `iss` (USER_JWT_ISSUER). */
  issuer?: string | undefined;
};

/**
 * The host application signs end-user tokens with HS256, `sub` = its user id and an `exp` (a
 * token without one would never expire). Returns null for a missing, malformed, expired, wrongly
 * signed token, or one without the required claims.
 */
export async function verifyUserToken(authorization: string | undefined, policy: UserTokenPolicy): Promise<EndUser | null> {
  const token = bearerToken(authorization);
  if (!policy.secret || !token) return null;
  if (token.split('.').length !== 3) return null;
  try {
    const { payload } = await jwtVerify(token, policy.secret, {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      ...(policy.audience ? { audience: policy.audience } : {}),
      ...(policy.issuer ? { issuer: policy.issuer } : {}),
    });
    return typeof payload.sub === 'string' && payload.sub.length > 0 && payload.sub.length <= 200 ? { id: payload.sub } : null;
  } catch {
    return null;
  }
}
