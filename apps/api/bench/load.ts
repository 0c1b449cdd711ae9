import { Agent, request } from 'undici';
import { signPayload } from '@settle/stripe-simulator';

export type LoadResult = {
  events: number;
  concurrency: number;
  durationMs: number;
  throughput: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  statuses: Record<number, number>;
  /** When each event id was first sent (epoch ms), for time-to-grant; not written to the report. */
  sentAt?: Map<string, number>;
};

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Send pre-serialised events to a webhook URL with `concurrency` requests in flight (closed loop,
 * keep-alive), signed just before the run (Stripe's tolerance is 5 minutes). Each request's time
 * is measured from send to the full response: the acknowledgement latency.
 */
export async function runLoad(url: string, bodies: string[], secret: string, concurrency: number): Promise<LoadResult> {
  const signed = bodies.map((body) => ({ body, signature: signPayload(body, secret) }));
  const ids = bodies.map(eventId);
  const sentAt = new Map<string, number>();
  const dispatcher = new Agent({ connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies = new Float64Array(signed.length);
  const statuses: Record<number, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < signed.length; i = next++) {
        const { body, signature } = signed[i]!;
        const t0 = performance.now();
        if (!sentAt.has(ids[i]!)) sentAt.set(ids[i]!, performance.timeOrigin + t0);
        const res = await request(url, {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/json', 'stripe-signature': signature },
          body,
        });
        await res.body.dump();
        latencies[i] = performance.now() - t0;
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      }
    }),
  );
  const durationMs = performance.now() - started;
  await dispatcher.close();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return {
    events: signed.length,
    concurrency,
    durationMs: Math.round(durationMs),
    throughput: Math.round((signed.length / durationMs) * 1000),
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? 0),
    },
    statuses,
    sentAt,
  };
}

/** The `id` of a serialised event (parsed before the run starts). */
export function eventId(body: string): string {
  return String((JSON.parse(body) as { id?: unknown }).id ?? '');
}

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * Open-loop load: requests start on a fixed schedule (`rate` per second) whatever the server's
 * speed, as Stripe's deliveries do; latency is measured from each request's scheduled start, so
 * queueing in the server counts.
 */
export async function runLoadAtRate(url: string, bodies: string[], secret: string, rate: number): Promise<LoadResult> {
  const signed = bodies.map((body) => ({ body, signature: signPayload(body, secret) }));
  const dispatcher = new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies = new Float64Array(signed.length);
  const statuses: Record<number, number> = {};
  const interval = 1000 / rate;
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < signed.length; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const { body, signature } = signed[i]!;
    inflight.push(
      request(url, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body }).then(async (res) => {
        await res.body.dump();
        latencies[i] = performance.now() - due;
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      }),
    );
  }
  await Promise.all(inflight);
  const durationMs = performance.now() - started;
  await dispatcher.close();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return {
    events: signed.length,
    concurrency: 0,
    durationMs: Math.round(durationMs),
    throughput: Math.round((signed.length / durationMs) * 1000),
    latencyMs: { p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? 0) },
    statuses,
  };
}
