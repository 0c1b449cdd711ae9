import Stripe from 'stripe';

/**
 * The Stripe SDK client. `apiBase` points it at another host (the offline simulator or a test
 * fake) through the SDK's own host/port/protocol options; nothing else changes.
 */
export function createStripeClient(secretKey: string, apiBase?: string, apiVersion?: string): Stripe {
  const base = apiBase ? new URL(apiBase) : null;
  return new Stripe(secretKey, {
    // Settle pins the SDK's version unless STRIPE_API_VERSION says otherwise.
    ...(apiVersion ? { apiVersion: apiVersion as Stripe.LatestApiVersion } : {}),
    maxNetworkRetries: 2,
    timeout: 15_000,
    ...(base
      ? {
          host: base.hostname,
          port: base.port ? Number(base.port) : base.protocol === 'https:' ? 443 : 80,
          protocol: base.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
  });
}

/** The API version Settle reads events in: STRIPE_API_VERSION, else the SDK's own. */
export function pinnedApiVersion(env: { STRIPE_API_VERSION?: string | undefined }): string {
  return env.STRIPE_API_VERSION ?? Stripe.API_VERSION;
}
