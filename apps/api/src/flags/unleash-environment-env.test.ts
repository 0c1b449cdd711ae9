import { describe, expect, it } from 'vitest';
import { parseEnv, unleashTokenEnvironment } from '../env.js';

const unleash = (token: string, extra: Record<string, string> = {}) => ({ UNLEASH_URL: 'http://127.0.0.1:4242/api/', UNLEASH_API_TOKEN: token, ...extra });

describe('UNLEASH_ENVIRONMENT beside the client token', () => {
  it('refuses a start where the client token reads another environment than admin.flags.set writes to', () => {
    expect(() => parseEnv(unleash('*:production.abc123'))).toThrow(
      /UNLEASH_ENVIRONMENT: UNLEASH_API_TOKEN reads the flags of Unleash environment "production", but UNLEASH_ENVIRONMENT is "development".*Set UNLEASH_ENVIRONMENT=production/,
    );
    expect(() => parseEnv(unleash('default:development.abc123', { UNLEASH_ENVIRONMENT: 'production' }))).toThrow(/environment "development", but UNLEASH_ENVIRONMENT is "production"/);
  });

  it('starts when they agree, and with tokens in other forms (unchecked)', () => {
    expect(parseEnv(unleash('*:production.abc123', { UNLEASH_ENVIRONMENT: 'production' })).UNLEASH_ENVIRONMENT).toBe('production');
    expect(parseEnv(unleash('[]:development.abc123')).UNLEASH_ENVIRONMENT).toBe('development');
    for (const token of ['client-token', 'user:6a5f1f2c', '*:*.all-environments', 'Bearer abc.def']) expect(() => parseEnv(unleash(token))).not.toThrow();
    // Without UNLEASH_URL the token is not used for Unleash.
    expect(() => parseEnv({ UNLEASH_API_TOKEN: '*:production.abc' })).not.toThrow();
  });

  it('reads the environment of project:environment.secret tokens only', () => {
    expect(['default:production.abc', '*:development.x.y', '[]:staging.abc', 'client-token', 'default:production', 'user:abc'].map(unleashTokenEnvironment)).toEqual([
      'production',
      'development',
      'staging',
      null,
      null,
      null,
    ]);
  });
});
