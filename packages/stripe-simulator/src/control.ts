/**
 * The simulator's own control API (unauthenticated, for local use): list sessions and journeys,
 * run a journey on a session over HTTP (what `settle-simulate <journey>` calls).
 */
import { SimulatorError, type SimulatorCore } from './core.js';
import { runJourney } from './journey-runner.js';
import { isJourney, isSubscriptionJourney, PAYMENT_JOURNEYS, SUBSCRIPTION_JOURNEYS } from './journeys.js';
import { isRecord } from './stripe-api.js';
import type { StripeObject } from './state.js';

function newestOpenSession(sim: SimulatorCore, mode: 'payment' | 'subscription' = 'payment'): StripeObject | undefined {
  return [...sim.state.checkoutSessions.values()].reverse().find((s) => s.status === 'open' && s.mode === mode);
}

export async function control(sim: SimulatorCore, method: string, path: string, raw: string, send: (status: number, body: unknown) => void): Promise<void> {
  if (method === 'GET' && path === '/_sim/journeys') return send(200, { journeys: PAYMENT_JOURNEYS, subscription_journeys: SUBSCRIPTION_JOURNEYS });
  if (method === 'GET' && path === '/_sim/sessions') {
    const sessions = [...sim.state.checkoutSessions.values()].reverse().map((s) => ({
      id: s.id,
      status: s.status,
      payment_status: s.payment_status,
      mode: s.mode,
      amount_total: s.amount_total,
      currency: s.currency,
      customer: s.customer,
      order_id: (s.metadata as Record<string, string>).orderId ?? null,
      client_reference_id: s.client_reference_id,
      payment_intent: s.payment_intent,
      created: s.created,
      url: s.url,
    }));
    return send(200, { sessions });
  }
  const m = /^\/_sim\/journeys\/([^/]+)$/.exec(path);
  if (method === 'POST' && m) {
    const journey = decodeURIComponent(m[1]!);
    if (!isJourney(journey)) {
      return send(400, { error: { message: `Unknown journey '${journey}'`, valid_journeys: PAYMENT_JOURNEYS, valid_subscription_journeys: SUBSCRIPTION_JOURNEYS } });
    }
    let body: Record<string, unknown> = {};
    if (raw.trim()) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (!isRecord(parsed)) throw new Error('not an object');
        body = parsed;
      } catch {
        return send(400, { error: { message: 'The body must be a JSON object: {"sessionId"?, "duplicates"?, "shuffle"?, "seed"?, "delayMs"?}' } });
      }
    }
    const mode = isSubscriptionJourney(journey) ? 'subscription' : 'payment';
    const sessionId = typeof body.sessionId === 'string' && body.sessionId ? body.sessionId : newestOpenSession(sim, mode)?.id;
    if (!sessionId) return send(404, { error: { message: `No open ${mode}-mode Checkout Session; create one first (POST /v1/checkout/sessions, e.g. by starting a checkout in Settle).` } });
    const duplicates = body.duplicates === true ? 0.5 : typeof body.duplicates === 'number' ? body.duplicates : 0;
    const run = await runJourney(sim, journey, sessionId, {
      duplicates,
      shuffle: body.shuffle === true,
      ...(typeof body.seed === 'number' ? { seed: body.seed } : {}),
      ...(typeof body.delayMs === 'number' ? { delayMs: body.delayMs } : {}),
    });
    const session = sim.state.checkoutSessions.get(sessionId)!;
    return send(200, {
      journey,
      session: { id: sessionId, status: session.status, payment_status: session.payment_status, payment_intent: session.payment_intent },
      order_id: (session.metadata as Record<string, string>).orderId ?? null,
      webhook: sim.webhook?.url ?? null,
      events: run.events.map((e) => ({ id: e.id, type: e.type })),
      deliveries: run.deliveries.map((d) => ({ event_id: d.eventId, type: d.type, ok: d.ok, status: d.status, attempts: d.attempts })),
    });
  }
  throw new SimulatorError(404, `Unknown simulator endpoint ${method} ${path}; try GET /_sim/sessions, GET /_sim/journeys or POST /_sim/journeys/:journey`);
}

