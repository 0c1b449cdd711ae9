import { describe, expect, it } from 'vitest';
import { bearerToken } from './bearer.js';

describe('bearerToken', () => {
  it('reads the credentials whatever the case of the scheme, and nothing else', () => {
    for (const h of ['Bearer abc.def', 'bearer abc.def', 'BEARER  abc.def ', 'Bearer\tabc.def']) expect(bearerToken(h)).toBe('abc.def');
    for (const h of [undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearerabc', 'Bearer a b']) expect(bearerToken(h)).toBeNull();
  });
});
