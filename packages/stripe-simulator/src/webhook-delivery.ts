import Stripe from 'stripe';

/** Sign a payload exactly as Stripe does (`Stripe-Signature: t=...,v1=...`). */
export function signPayload(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
}

export type DeliveryResult = { status: number; ok: boolean; body: string };

/** POST one event to a webhook endpoint, signed; network errors come back as status 0. */
export async function deliverEvent(
  url: string,
  event: unknown,
  secret: string,
  opts: { timestamp?: number; signal?: AbortSignal } = {},
): Promise<DeliveryResult> {
  const payload = JSON.stringify(event);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signPayload(payload, secret, opts.timestamp) },
      body: payload,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const body = await res.text();
    return { status: res.status, ok: res.status >= 200 && res.status < 300, body };
  } catch (err) {
    return { status: 0, ok: false, body: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Deliver like Stripe: every event until it gets a 2xx, retrying failed deliveries with a short
 * backoff (Stripe's is hours; a simulator's is milliseconds), up to `maxAttempts` each.
 */
export async function deliverUntilAcknowledged(
  url: string,
  events: unknown[],
  secret: string,
  opts: { concurrency?: number; maxAttempts?: number; retryDelayMs?: number; signal?: AbortSignal } = {},
): Promise<{ delivered: number; attempts: number; failed: number; statuses: Record<number, number> }> {
  const queue = [...events];
  const statuses: Record<number, number> = {};
  let delivered = 0;
  let attempts = 0;
  let failed = 0;
  const maxAttempts = opts.maxAttempts ?? 50;
  const signal = opts.signal;
  async function lane() {
    // An aborted signal stops the delivery: the event in flight counts as failed, the rest are not tried.
    for (let ev = queue.shift(); ev !== undefined && !signal?.aborted; ev = queue.shift()) {
      for (let attempt = 1; ; attempt++) {
        attempts += 1;
        const r = await deliverEvent(url, ev, secret, signal ? { signal } : {});
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.ok) {
          delivered += 1;
          break;
        }
        if (attempt >= maxAttempts || signal?.aborted) {
          failed += 1;
          break;
        }
        await sleep(Math.min(2_000, (opts.retryDelayMs ?? 50) * attempt), signal);
      }
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, lane));
  return { delivered, attempts, failed, statuses };
}

/** Wait `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
