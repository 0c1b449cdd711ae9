#!/usr/bin/env tsx
/**
 * settle-simulate: drive the offline Stripe simulator.
 *
 *   settle-simulate <journey> [--session cs_...] [--duplicates] [--shuffle] [--seed N] [--delay-ms N]
 *                   [--drop TYPE]... [--fail TYPE]... [--format snapshot|thin|both] [--api URL]
 *       Run a journey on a Checkout Session (default: the newest open one of the journey's mode)
 *       of the running simulator, which delivers the journey's webhooks; prints what each
 *       delivery got back. `--drop` loses the events of a type (recorded in Stripe's event list,
 *       never delivered: practise recovery); `--fail` marks them so that processing fails
 *       (`pnpm dev` wires this into Settle: practise Replay, after `settle-simulate fix`; only a
 *       type Settle processes can fail: one it never acts on is settled on arrival).
 *   settle-simulate fix [evt_...]
 *       Clear the failure mark of one event, or of all; a Replay then succeeds.
 *   settle-simulate failing
 *       List the events marked to fail processing.
 *   settle-simulate fail-refund re_...
 *       Make a refund fail after the fact (refund.failed, refund.updated, charge.refund.updated).
 *   settle-simulate sessions
 *       List the simulator's Checkout Sessions, newest first.
 *   settle-simulate serve [--port 12111] [--host 127.0.0.1] [--state-dir DIR] [--format snapshot|thin|both]
 *       Start a simulator (what `pnpm dev` runs). Webhooks go to STRIPE_WEBHOOK_URL (default
 *       http://127.0.0.1:$PORT/webhooks/stripe, PORT defaulting to 3000), signed with the first
 *       secret of STRIPE_WEBHOOK_SECRET; the port can also come from STRIPE_SIMULATOR_PORT, the
 *       state folder from STRIPE_SIMULATOR_STATE_DIR (default: memory only).
 *
 * The running simulator is found at --api, else SIMULATOR_URL, else on STRIPE_SIMULATOR_PORT (the
 * port `pnpm dev` started it on) at 127.0.0.1, else http://127.0.0.1:12111.
 * Point Settle at it with STRIPE_SECRET_KEY=sk_test_... STRIPE_API_BASE=http://127.0.0.1:12111.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ALL_JOURNEYS, isJourney, JOURNEYS_BY_SESSION_MODE } from './journeys.js';
import { EVENT_FORMATS, startStripeSimulator, type EventFormat } from './simulator.js';
import { money } from './state.js';

export const DEFAULT_SIMULATOR_URL = 'http://127.0.0.1:12111';

export type CliIo = {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  fetch?: typeof fetch;
  /** Stops `serve` (default: SIGINT or SIGTERM). */
  stop?: Promise<unknown>;
};

const USAGE = `usage:
  settle-simulate <journey> [--session cs_...] [--duplicates] [--shuffle] [--seed N] [--delay-ms N]
                  [--drop TYPE]... [--fail TYPE]... [--format snapshot|thin|both] [--to-price ID] [--add-on ID] [--api URL]
      --drop TYPE   record the journey's TYPE events (GET /v1/events lists them) but never deliver them
      --fail TYPE   deliver them, marked so that processing fails until \`settle-simulate fix\` (pnpm dev wires this into Settle)
      --format      deliver snapshot events (default), thin notifications (v2.core.event), or both
      --to-price ID subscription_upgrade/downgrade: the price the item moves to (default: the nearest known one)
      --add-on ID   subscription journeys: the customer adds this price (seats, support) as a second item, listed
                    before the plan from the first renewal on, billed on each renewal (3.00 unless the price is known)
  settle-simulate fix [evt_...] [--api URL]      clear the failure mark of one event (default: all)
  settle-simulate failing [--api URL]            list the events marked to fail processing
  settle-simulate fail-refund re_... [--api URL] make a refund fail after the fact (the money returns to the charge)
  settle-simulate sessions [--api URL]
  settle-simulate serve [--port 12111] [--host 127.0.0.1] [--state-dir DIR] [--format snapshot|thin|both]
journeys (on a payment-mode session): ${JOURNEYS_BY_SESSION_MODE.payment.join(', ')}
subscription journeys (on a subscription-mode session): ${JOURNEYS_BY_SESSION_MODE.subscription.join(', ')}
journeys on no session (objects Settle never created): ${JOURNEYS_BY_SESSION_MODE.none.join(', ')}
the simulator is found at --api, SIMULATOR_URL, http://127.0.0.1:$STRIPE_SIMULATOR_PORT or ${DEFAULT_SIMULATOR_URL}`;

type JourneyResponse = {
  journey: string;
  session: { id: string; status: string; payment_status: string; payment_intent: string | null } | null;
  order_id: string | null;
  webhook: string | null;
  events: { id: string; type: string }[];
  deliveries: { event_id: string; type: string; ok: boolean; status: number; attempts: number; dropped: boolean }[];
  failing: { id: string; type: string }[];
};

type FailingList = { failing: { id: string; type: string | null }[] };

type SessionSummary = {
  id: string;
  status: string;
  payment_status: string;
  mode: string;
  amount_total: number;
  currency: string;
  order_id: string | null;
  created: number;
};

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        session: { type: 'string' },
        duplicates: { type: 'boolean' },
        shuffle: { type: 'boolean' },
        seed: { type: 'string' },
        'delay-ms': { type: 'string' },
        api: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        drop: { type: 'string', multiple: true },
        fail: { type: 'string', multiple: true },
        format: { type: 'string' },
        'to-price': { type: 'string' },
        'add-on': { type: 'string' },
        'state-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || command === 'help') {
    io.out(USAGE);
    return 0;
  }
  if (!command) {
    io.err(USAGE);
    return 1;
  }
  // A second checkout's `pnpm dev` runs its simulator on STRIPE_SIMULATOR_PORT: the same variable finds it.
  const onPort = io.env.STRIPE_SIMULATOR_PORT ? `http://127.0.0.1:${io.env.STRIPE_SIMULATOR_PORT}` : undefined;
  const base = (values.api ?? io.env.SIMULATOR_URL ?? onPort ?? DEFAULT_SIMULATOR_URL).replace(/\/+$/, '');
  const doFetch = io.fetch ?? fetch;

  if (command === 'serve') return serve(values, io);

  const call = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T } | null> => {
    try {
      const res = await doFetch(`${base}${path}`, {
        method,
        ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, json: (await res.json()) as T };
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
      io.err(`cannot reach the Stripe simulator at ${base} (${cause}); start it with \`settle-simulate serve\` or \`pnpm dev\`, or set SIMULATOR_URL`);
      return null;
    }
  };
  const failure = (json: unknown): string =>
    typeof json === 'object' && json !== null && 'error' in json && typeof (json as { error: { message?: unknown } }).error?.message === 'string'
      ? (json as { error: { message: string } }).error.message
      : JSON.stringify(json);

  if (command === 'sessions') {
    const r = await call<{ sessions: SessionSummary[] }>('GET', '/_sim/sessions');
    if (!r) return 1;
    if (r.status !== 200) {
      io.err(`simulator answered ${r.status}: ${failure(r.json)}`);
      return 1;
    }
    if (r.json.sessions.length === 0) io.out('no Checkout Sessions yet');
    for (const s of r.json.sessions) {
      const when = new Date(s.created * 1000).toISOString().replace('T', ' ').slice(0, 19);
      io.out(`${s.id}  ${`${s.status}/${s.payment_status}`.padEnd(16)} ${money(s.amount_total, s.currency).padStart(12)}  ${s.mode.padEnd(12)} order ${s.order_id ?? '-'}  ${when}`);
    }
    return 0;
  }

  if (command === 'fail-refund') {
    const refundId = positionals[1];
    if (!refundId) {
      io.err(`fail-refund needs a refund id (re_...)\n${USAGE}`);
      return 1;
    }
    const r = await call<{ events: { id: string; type: string }[] }>('POST', `/_sim/refunds/${encodeURIComponent(refundId)}/fail`, {});
    if (!r) return 1;
    if (r.status !== 200) {
      io.err(`simulator answered ${r.status}: ${failure(r.json)}`);
      return 1;
    }
    io.out(`refund ${refundId} failed; sent ${r.json.events.map((e) => e.type).join(', ')}`);
    return 0;
  }

  if (command === 'fix' || command === 'failing') {
    const eventId = positionals[1];
    const r = command === 'fix'
      ? await call<FailingList & { fixed: { id: string; type: string | null }[] }>('POST', '/_sim/fix', eventId ? { eventId } : {})
      : await call<FailingList>('GET', '/_sim/failing');
    if (!r) return 1;
    if (r.status !== 200) {
      io.err(`simulator answered ${r.status}: ${failure(r.json)}`);
      return 1;
    }
    if ('fixed' in r.json) {
      const fixed = (r.json as { fixed: { id: string; type: string | null }[] }).fixed;
      if (fixed.length === 0) io.out(eventId ? `${eventId} was not marked to fail` : 'no event was marked to fail');
      for (const e of fixed) io.out(`fixed ${e.id} (${e.type ?? '?'}): processing it succeeds now; replay it from the console`);
    }
    if (command === 'failing' || r.json.failing.length > 0) {
      if (r.json.failing.length === 0) io.out('no event is marked to fail processing');
      for (const e of r.json.failing) io.out(`failing ${e.id} (${e.type ?? '?'})`);
    }
    return 0;
  }

  if (!isJourney(command)) {
    io.err(`unknown journey '${command}'; valid journeys:\n${ALL_JOURNEYS.map((j) => `  ${j}`).join('\n')}`);
    return 1;
  }
  const numeric = (name: 'seed' | 'delay-ms'): number | undefined | null => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) {
      io.err(`--${name} must be a non-negative number, got '${v}'`);
      return null;
    }
    return n;
  };
  const seed = numeric('seed');
  const delayMs = numeric('delay-ms');
  if (seed === null || delayMs === null) return 1;
  const r = await call<JourneyResponse>('POST', `/_sim/journeys/${encodeURIComponent(command)}`, {
    ...(values.session ? { sessionId: values.session } : {}),
    duplicates: values.duplicates ?? false,
    shuffle: values.shuffle ?? false,
    ...(seed !== undefined ? { seed } : {}),
    ...(delayMs !== undefined ? { delayMs } : {}),
    ...(values.drop ? { drop: values.drop } : {}),
    ...(values.fail ? { fail: values.fail } : {}),
    ...(values.format ? { format: values.format } : {}),
    ...(values['to-price'] ? { targetPriceId: values['to-price'] } : {}),
    ...(values['add-on'] !== undefined ? { addOnPriceId: values['add-on'] } : {}),
  });
  if (!r) return 1;
  if (r.status !== 200) {
    io.err(`simulator answered ${r.status}: ${failure(r.json)}`);
    return 1;
  }
  const j = r.json;
  if (j.session) {
    io.out(`${j.journey} on ${j.session.id}${j.order_id ? ` (order ${j.order_id})` : ''}`);
    io.out(`  session ${j.session.status} / ${j.session.payment_status}${j.session.payment_intent ? `, payment intent ${j.session.payment_intent}` : ''}`);
  } else {
    io.out(`${j.journey}: objects Settle never created`);
  }
  if (!j.webhook) {
    io.out(`  ${j.events.length} events recorded; none delivered (the simulator has no webhook URL):`);
    for (const e of j.events) io.out(`    ${e.type.padEnd(42)} ${e.id}`);
    return 0;
  }
  io.out(`  webhooks to ${j.webhook}:`);
  for (const d of j.deliveries) {
    const mark = d.dropped ? '- ---' : `${d.ok ? '✓' : '✗'} ${String(d.status).padStart(3)}`;
    io.out(`    ${mark}  ${d.type.padEnd(42)} ${d.event_id}${d.dropped ? '  (dropped: never delivered)' : d.attempts > 1 ? `  (${d.attempts} attempts)` : ''}`);
  }
  const dropped = j.deliveries.filter((d) => d.dropped).length;
  const failed = j.deliveries.filter((d) => !d.ok && !d.dropped).length;
  io.out(`  ${j.events.length} events, ${j.deliveries.length} deliveries: ${j.deliveries.length - failed - dropped} acknowledged, ${failed} failed${dropped ? `, ${dropped} dropped (recover them from Stripe's event list)` : ''}`);
  for (const e of j.failing) io.out(`  marked to fail processing: ${e.type} ${e.id} (\`pnpm simulate fix ${e.id}\`, then replay it)`);
  return failed > 0 ? 1 : 0;
}

async function serve(values: { port?: string | undefined; host?: string | undefined; format?: string | undefined; 'state-dir'?: string | undefined }, io: CliIo): Promise<number> {
  const port = Number(values.port ?? io.env.STRIPE_SIMULATOR_PORT ?? 12111);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.err(`invalid port '${values.port ?? io.env.STRIPE_SIMULATOR_PORT}'`);
    return 1;
  }
  const secret = io.env.STRIPE_WEBHOOK_SECRET?.split(',').map((s) => s.trim()).find(Boolean);
  const webhookUrl = io.env.STRIPE_WEBHOOK_URL ?? `http://127.0.0.1:${io.env.PORT ?? 3000}/webhooks/stripe`;
  if (!secret) io.err('STRIPE_WEBHOOK_SECRET is not set: events are recorded but no webhooks are delivered');
  const format = values.format ?? io.env.STRIPE_SIMULATOR_FORMAT;
  if (format !== undefined && !(EVENT_FORMATS as readonly string[]).includes(format)) {
    io.err(`--format must be one of ${EVENT_FORMATS.join(', ')}, got '${format}'`);
    return 1;
  }
  const stateDir = values['state-dir'] ?? io.env.STRIPE_SIMULATOR_STATE_DIR;
  const sim = await startStripeSimulator({
    port,
    host: values.host ?? '127.0.0.1',
    ...(stateDir ? { stateDir } : {}),
    ...(format ? { eventFormat: format as EventFormat } : {}),
    ...(secret ? { webhookUrl, webhookSecret: secret } : {}),
    log: (msg) => io.out(`[stripe-simulator] ${msg}`),
  });
  io.out(`[stripe-simulator] use STRIPE_SECRET_KEY=sk_test_... STRIPE_API_BASE=${sim.url}; run a journey with \`settle-simulate <journey>\``);
  await (io.stop ?? new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  }));
  await sim.close();
  return 0;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2), {
    env: process.env,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
