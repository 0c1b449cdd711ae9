import { jwtVerify } from 'jose';
import { bearerToken } from './bearer.js';

/**
 * What a user token lets its bearer do. `full` (no `settle_scope` claim, as every token before read tokens):
 * everything a user may do. `read` (`"settle_scope": "read"`): user queries and subscriptions only, never a
 * mutation, so a token handed to a browser cannot spend credits, open checkouts or portals.
 */
export type UserAccess = 'full' | 'read';

export type EndUser = { id: string; access: UserAccess };

export type UserTokenPolicy = {
  secret: Uint8Array | null;
  /** When set, tokens must carry this `aud` (USER_JWT_AUDIENCE). */
  audience?: string | undefined;
  /** When set, tokens must carry this `iss` (USER_JWT_ISSUER). */
  issuer?: string | undefined;
};

/**
 * The host application signs end-user tokens with HS256, `sub` = its user id and an `exp` (a
 * token without one would never expire), and optionally `"settle_scope": "read"` for a read-only token.
 * Returns null for a missing, malformed, expired, wrongly signed token, one without the required
 * claims, or one with a `settle_scope` other than `read`.
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
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 200) return null;
    if (!('settle_scope' in payload)) return { id: payload.sub, access: 'full' };
    // Any other settle_scope (a typo, "write", a future one) is refused, never taken as full access.
    return payload.settle_scope === 'read' ? { id: payload.sub, access: 'read' } : null;
  } catch {
    return null;
  }
}
