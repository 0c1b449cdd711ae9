/**
 * The credentials of an `Authorization: Bearer …` header, or null for any other scheme. The
 * scheme name is case-insensitive (RFC 9110 §11.1): `bearer x` and `BEARER x` are `Bearer x`.
 */
export function bearerToken(authorization: string | undefined): string | null {
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  return match ? match[1]! : null;
}
