import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseEnv } from '../env.js';

const secret = `whsec_${randomBytes(24).toString('base64')}`;

describe('host webhook configuration', () => {
  it('accepts an http(s) URL with a Standard Webhooks secret', () => {
    const env = parseEnv({ HOST_WEBHOOK_URL: 'https://app.example.com/settle', HOST_WEBHOOK_SECRET: secret });
    expect(env).toMatchObject({ HOST_WEBHOOK_URL: 'https://app.example.com/settle', HOST_WEBHOOK_MAX_ATTEMPTS: 10 });
    expect(parseEnv({ HOST_WEBHOOK_URL: 'http://127.0.0.1:4700/hooks', HOST_WEBHOOK_SECRET: secret }).HOST_WEBHOOK_URL).toBe('http://127.0.0.1:4700/hooks');
  });

  it.each([
    ['ftp://app.example.com/settle', secret, /HOST_WEBHOOK_URL: HOST_WEBHOOK_URL must be an http:\/\/ or https:\/\/ URL/],
    ['app.example.com/settle', secret, /HOST_WEBHOOK_URL must be an http/],
    ['https://app.example.com/settle', 'not-a-secret', /HOST_WEBHOOK_SECRET must be "whsec_" followed by base64/],
    ['https://app.example.com/settle', 'whsec_%%%notbase64%%%', /HOST_WEBHOOK_SECRET must be "whsec_"/],
    // Too short to be a real key: 8 bytes.
    ['https://app.example.com/settle', `whsec_${randomBytes(8).toString('base64')}`, /HOST_WEBHOOK_SECRET must be "whsec_"/],
    ['https://app.example.com/settle', undefined, /HOST_WEBHOOK_SECRET is required with HOST_WEBHOOK_URL/],
    [undefined, secret, /HOST_WEBHOOK_URL is not/],
  ])('refuses to start with HOST_WEBHOOK_URL=%s HOST_WEBHOOK_SECRET=%s', (url, sec, message) => {
    expect(() => parseEnv({ HOST_WEBHOOK_URL: url, HOST_WEBHOOK_SECRET: sec })).toThrow(message);
  });

  it('refuses a retry schedule that is not whole milliseconds and an attempt limit below one', () => {
    expect(() => parseEnv({ HOST_WEBHOOK_RETRY_DELAYS_MS: '0,5s' })).toThrow(/HOST_WEBHOOK_RETRY_DELAYS_MS/);
    expect(() => parseEnv({ HOST_WEBHOOK_MAX_ATTEMPTS: '0' })).toThrow(/HOST_WEBHOOK_MAX_ATTEMPTS/);
  });

  it('keeps 30 days of outbox by default, and refuses a retention that is not a whole number of days', () => {
    expect(parseEnv({})).toMatchObject({ HOST_WEBHOOK_RETENTION_DAYS: 30, HOST_WEBHOOK_PRUNE_INTERVAL_MS: 3_600_000 });
    expect(parseEnv({ HOST_WEBHOOK_RETENTION_DAYS: '7' }).HOST_WEBHOOK_RETENTION_DAYS).toBe(7);
    for (const bad of ['0', '1.5', 'a month']) expect(() => parseEnv({ HOST_WEBHOOK_RETENTION_DAYS: bad })).toThrow(/HOST_WEBHOOK_RETENTION_DAYS/);
  });
});
