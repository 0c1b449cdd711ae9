/**
 * The simulator's own control API (unauthenticated, for local use): list sessions and journeys,
 * run a journey on a session over HTTP (what `settle-simulate <journey>` calls).
 */
import { EVENT_FORMATS, SimulatorError, type EventFormat, type SimulatorCore } from './core.js';
import { checkAddOn, runJourney } from './journey-runner.js';
import { failRefund } from './refunds.js';
import { ALL_JOURNEYS, isJourney, journeyMode, JOURNEYS_BY_SESSION_MODE } from './journeys.js';
import { isRecord } from './stripe-api.js';
import type { StripeObject } from './state.js';

function newestOpenSession(sim: SimulatorCore, mode: 'payment' | 'subscription' = 'payment'): StripeObject | undefined {
  return [...sim.state.checkoutSessions.values()].reverse().find((s) => s.status === 'open' && s.mode === mode);
}

export async function control(sim: SimulatorCore, method: string, path: string, raw: string, send: (status: number, body: unknown) => void): Promise<void> {
  if (method === 'GET' && path === '/_sim/journeys') return send(200, { journeys: ALL_JOURNEYS, by_session_mode: JOURNEYS_BY_SESSION_MODE });
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
      return send(400, { error: { message: `Unknown journey '${journey}'`, valid_journeys: ALL_JOURNEYS } });
    }
    const body = jsonBody(raw, '{"sessionId"?, "duplicates"?, "shuffle"?, "seed"?, "delayMs"?, "drop"?, "fail"?, "format"?, "targetPriceId"?, "addOnPriceId"?}');
    const typeList = (name: 'drop' | 'fail'): string[] | undefined => {
      const v = body[name];
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || !v.every((t): t is string => typeof t === 'string' && t !== '')) {
        throw new SimulatorError(400, `"${name}" must be a list of event types, e.g. ["invoice.paid"]`);
      }
      return v;
    };
    const drop = typeList('drop');
    const fail = typeList('fail');
    if (body.format !== undefined && !(EVENT_FORMATS as readonly unknown[]).includes(body.format)) {
      throw new SimulatorError(400, `"format" must be one of ${EVENT_FORMATS.join(', ')}`);
    }
    // Refused before the session lookup: the option is wrong whatever sessions are open.
    checkAddOn(journey, body.addOnPriceId === undefined ? undefined : String(body.addOnPriceId));
    const mode = journeyMode(journey);
    const sessionId = mode === null ? null : typeof body.sessionId === 'string' && body.sessionId ? body.sessionId : newestOpenSession(sim, mode)?.id;
    if (mode !== null && !sessionId) return send(404, { error: { message: `No open ${mode}-mode Checkout Session; create one first (POST /v1/checkout/sessions, e.g. by starting a checkout in Settle).` } });
    const duplicates = body.duplicates === true ? 0.5 : typeof body.duplicates === 'number' ? body.duplicates : 0;
    const run = await runJourney(sim, journey, sessionId ?? null, {
      duplicates,
      shuffle: body.shuffle === true,
      ...(typeof body.seed === 'number' ? { seed: body.seed } : {}),
      ...(typeof body.delayMs === 'number' ? { delayMs: body.delayMs } : {}),
      ...(drop ? { drop } : {}),
      ...(fail ? { fail } : {}),
      ...(body.format !== undefined ? { format: body.format as EventFormat } : {}),
      ...(typeof body.targetPriceId === 'string' && body.targetPriceId ? { targetPriceId: body.targetPriceId } : {}),
      ...(body.addOnPriceId !== undefined ? { addOnPriceId: String(body.addOnPriceId) } : {}),
    });
    const session = sessionId ? sim.state.checkoutSessions.get(sessionId) : undefined;
    return send(200, {
      journey,
      session: session ? { id: session.id, status: session.status, payment_status: session.payment_status, payment_intent: session.payment_intent } : null,
      order_id: session ? ((session.metadata as Record<string, string>).orderId ?? null) : null,
      webhook: sim.webhook?.url ?? null,
      events: run.events.map((e) => ({ id: e.id, type: e.type })),
      deliveries: run.deliveries.map((d) => ({ event_id: d.eventId, type: d.type, ok: d.ok, status: d.status, attempts: d.attempts, dropped: d.dropped ?? false })),
      failing: run.events.filter((e) => sim.state.failing.has(e.id)).map((e) => ({ id: e.id, type: e.type })),
    });
  }
  const refund = /^\/_sim\/refunds\/([^/]+)\/fail$/.exec(path);
  if (method === 'POST' && refund) {
    const body = jsonBody(raw, '{"failureReason"?: "expired_or_canceled_card" | "lost_or_stolen_card" | "unknown"}');
    const reason = body.failureReason === undefined ? undefined : String(body.failureReason);
    const events = failRefund(sim, decodeURIComponent(refund[1]!), reason);
    return send(200, { refund: sim.state.refunds.get(decodeURIComponent(refund[1]!)), events: events.map((e) => ({ id: e.id, type: e.type })) });
  }
  if (method === 'GET' && path === '/_sim/failing') return send(200, { failing: failingEvents(sim) });
  if (method === 'POST' && path === '/_sim/fix') {
    const shape = '{"eventId"?: "evt_..."} (without it every mark is cleared)';
    const body = jsonBody(raw, shape);
    if (body.eventId !== undefined && typeof body.eventId !== 'string') throw new SimulatorError(400, `The body must be ${shape}`);
    const eventId = body.eventId as string | undefined;
    if (eventId && !sim.state.events.has(eventId) && !sim.state.thinEvents.has(eventId)) throw new SimulatorError(404, `No such event: '${eventId}'`);
    const fixed = sim.fix(eventId);
    return send(200, { fixed: fixed.map((id) => ({ id, type: sim.state.events.get(id)?.type ?? null })), failing: failingEvents(sim) });
  }
  throw new SimulatorError(404, `Unknown simulator endpoint ${method} ${path}; try GET /_sim/sessions, GET /_sim/journeys, POST /_sim/journeys/:journey, GET /_sim/failing, POST /_sim/fix or POST /_sim/refunds/:id/fail`);
}

/** A control request's JSON object body (empty: `{}`); anything else is a 400 naming the expected shape. */
function jsonBody(raw: string, shape: string): Record<string, unknown> {
  if (!raw.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!isRecord(parsed)) throw new SimulatorError(400, `The body must be a JSON object: ${shape}`);
  return parsed;
}

function failingEvents(sim: SimulatorCore): { id: string; type: string | null }[] {
  return [...sim.state.failing].map((id) => ({ id, type: sim.state.events.get(id)?.type ?? null }));
}

