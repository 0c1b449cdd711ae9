import { describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { ALL_JOURNEYS, PAYMENT_JOURNEYS } from './journeys.js';
import { captureCli, useSimulator } from './test-support.js';

const h = useSimulator();

describe('control API, hosted page and CLI', () => {
  const io = () => captureCli(h.sim.url);

  it('runs a journey on the newest open session over HTTP', async () => {
    const session = await h.createCheckout();
    const res = await fetch(`${h.sim.url}/_sim/journeys/card_success`, { method: 'POST', body: JSON.stringify({ duplicates: false }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { session: { id: string; status: string }; deliveries: { event_id: string; status: number; ok: boolean }[] };
    expect(body.session).toMatchObject({ id: session.id, status: 'complete' });
    expect(body.deliveries).toHaveLength(7);
    expect(body.deliveries.every((d) => d.ok && d.status === 200)).toBe(true);

    const sessions = (await (await fetch(`${h.sim.url}/_sim/sessions`)).json()) as { sessions: { id: string }[] };
    expect(sessions.sessions[0]!.id).toBe(session.id);
    const unknown = await fetch(`${h.sim.url}/_sim/journeys/teleport`, { method: 'POST' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { valid_journeys: string[] } }).error.valid_journeys).toEqual([...ALL_JOURNEYS]);
  });

  it('the hosted page runs the chosen journey and redirects to success_url', async () => {
    const session = await h.createCheckout('order-page');
    const page = await fetch(session.url!);
    expect(await page.text()).toContain('value="card_success"');
    const res = await fetch(session.url!, { method: 'POST', body: 'journey=card_success', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`http://localhost:3000/checkout/success?orderId=order-page&session=${session.id}`);
    await h.receiver.waitFor(7);
  });

  it('settle-simulate runs a journey and prints the deliveries', async () => {
    const session = await h.createCheckout('order-cli');
    const { out, err, io: cliIo } = io();
    const code = await main(['partial_refund', '--session', session.id, '--duplicates', '--seed', '3'], cliIo);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out[0]).toBe(`partial_refund on ${session.id} (order order-cli)`);
    expect(out.join('\n')).toMatch(/✓ 200 {2}refund\.created/);
    expect(out.at(-1)).toMatch(/acknowledged, 0 failed$/);

    const listed = io();
    expect(await main(['sessions'], listed.io)).toBe(0);
    expect(listed.out[0]).toContain(session.id);
  });

  it('settle-simulate refuses an unknown journey and an unreachable simulator', async () => {
    const { err, io: cliIo } = io();
    expect(await main(['teleport'], cliIo)).toBe(1);
    expect(err.join('\n')).toContain("unknown journey 'teleport'");
    for (const j of PAYMENT_JOURNEYS) expect(err.join('\n')).toContain(j);

    const down = io();
    expect(await main(['card_success'], { ...down.io, env: { SIMULATOR_URL: 'http://127.0.0.1:1' } })).toBe(1);
    expect(down.err[0]).toContain('cannot reach the Stripe simulator at http://127.0.0.1:1');
    // The port `pnpm dev` was given for its simulator (a second checkout) is where it is looked for.
    const elsewhere = io();
    expect(await main(['card_success'], { ...elsewhere.io, env: { STRIPE_SIMULATOR_PORT: '9' } })).toBe(1);
    expect(elsewhere.err[0]).toContain('cannot reach the Stripe simulator at http://127.0.0.1:9');
  });
});
