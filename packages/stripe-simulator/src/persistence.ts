/**
 * The simulator's memory on disk: one JSON file in a folder of the caller's choosing, so a
 * restarted `pnpm dev` still knows the payment intents, sessions and events that Settle's
 * database (which outlives the process) refers to.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StripeEvent } from './stripe-events.js';
import type { DeliveryState, SessionExtras, SimulatorState, StripeObject, ThinEvent, V2Event } from './state.js';

const FORMAT = 1;

/** Everything a restart must not lose; Maps as `[key, value]` entries. */
type Saved = {
  format: typeof FORMAT;
  objects: Record<ObjectKind, [string, StripeObject][]>;
  events: [string, StripeEvent][];
  thinEvents: [string, ThinEvent][];
  /** Absent in files written before health events existed. */
  v2Events?: [string, V2Event][];
  deliveries: [string, DeliveryState][];
  failing: string[];
  invoiceNumbers: [string, string][];
  invoiceNumbering: { prefix: string; next: number };
  sessionExtras: [string, SessionExtras][];
  idempotent: [string, unknown][];
};

const OBJECT_KINDS = [
  'customers', 'checkoutSessions', 'paymentIntents', 'charges', 'refunds', 'invoices', 'disputes', 'subscriptions',
  'invoicePayments', 'portalSessions',
] as const;
type ObjectKind = (typeof OBJECT_KINDS)[number];

export type PersistedParts = {
  state: SimulatorState;
  sessionExtras: Map<string, SessionExtras>;
  idempotent: Map<string, unknown>;
};

export function stateFile(dir: string): string {
  return join(dir, 'state.json');
}

/** Read a saved state into `parts` (which are empty); false when there is none yet. */
export function loadState(dir: string, parts: PersistedParts): boolean {
  const file = stateFile(dir);
  if (!existsSync(file)) return false;
  let saved: Saved;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as Saved;
  } catch (err) {
    throw new Error(`Stripe simulator: cannot read its state file ${file} (${err instanceof Error ? err.message : String(err)}); move it away to start empty`);
  }
  if (saved.format !== FORMAT) throw new Error(`Stripe simulator: ${file} has format ${String(saved.format)}, this simulator reads ${FORMAT}; move it away to start empty`);
  const s = parts.state;
  for (const kind of OBJECT_KINDS) for (const [id, obj] of saved.objects[kind] ?? []) s[kind].set(id, obj);
  for (const [id, ev] of saved.events) s.events.set(id, ev);
  for (const [id, ev] of saved.thinEvents) s.thinEvents.set(id, ev);
  for (const [id, ev] of saved.v2Events ?? []) s.v2Events.set(id, ev);
  for (const [id, d] of saved.deliveries) s.deliveries.set(id, d);
  for (const id of saved.failing) s.failing.add(id);
  for (const [id, n] of saved.invoiceNumbers) s.invoiceNumbers.set(id, n);
  s.invoiceNumbering.prefix = saved.invoiceNumbering.prefix;
  s.invoiceNumbering.next = saved.invoiceNumbering.next;
  for (const [id, x] of saved.sessionExtras) parts.sessionExtras.set(id, x);
  for (const [key, r] of saved.idempotent) parts.idempotent.set(key, r);
  return true;
}

/** Write the whole state; a temporary file and a rename, so a crash never leaves half a file. */
export function saveState(dir: string, parts: PersistedParts): void {
  const s = parts.state;
  const saved: Saved = {
    format: FORMAT,
    objects: Object.fromEntries(OBJECT_KINDS.map((kind) => [kind, [...s[kind]]])) as Saved['objects'],
    events: [...s.events],
    thinEvents: [...s.thinEvents],
    v2Events: [...s.v2Events],
    deliveries: [...s.deliveries],
    failing: [...s.failing],
    invoiceNumbers: [...s.invoiceNumbers],
    invoiceNumbering: s.invoiceNumbering,
    sessionExtras: [...parts.sessionExtras],
    idempotent: [...parts.idempotent],
  };
  mkdirSync(dir, { recursive: true });
  const file = stateFile(dir);
  writeFileSync(`${file}.tmp`, JSON.stringify(saved));
  renameSync(`${file}.tmp`, file);
}
