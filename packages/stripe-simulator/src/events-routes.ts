/**
 * Stripe's Events API: `GET /v1/events` (every event ever made, delivered or not, newest first,
 * with Stripe's filters) and the thin side, `GET /v2/core/events/:id`.
 */
import type { SimulatorCore } from './core.js';
import { expand } from './expand.js';
import { listPage, newestFirst } from './lists.js';
import { allowOnly, invalid, noSuch, optBool, optHash, optInt, optList, optString, type RequestContext, type Reply } from './stripe-api.js';
import { clone } from './state.js';

const EVENT_LIST_PARAMS = ['created', 'delivery_success', 'ending_before', 'expand', 'limit', 'starting_after', 'type', 'types'] as const;

export function listEvents(sim: SimulatorCore, ctx: RequestContext): Reply {
  const p = ctx.params;
  allowOnly(p, EVENT_LIST_PARAMS);
  const type = optString(p.type, 'type');
  const types = optList(p.types, 'types')?.map(String);
  if (type && types) throw invalid('You may only specify one of these parameters: type, types.', { code: 'parameters_exclusive', param: 'types' });
  const matchesType = (t: string) =>
    types ? types.includes(t) : !type ? true : type.includes('*') ? new RegExp(`^${type.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(t) : t === type;
  const created = p.created;
  const createdFilter = (c: number): boolean => {
    if (created === undefined || created === '') return true;
    if (typeof created === 'string') return c === optInt(created, 'created');
    const range = optHash(created, 'created') ?? {};
    const bound = (k: string) => optInt(range[k], `created[${k}]`);
    const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
    return (gt === undefined || c > gt) && (gte === undefined || c >= gte) && (lt === undefined || c < lt) && (lte === undefined || c <= lte);
  };
  // `delivery_success=false`: events still pending or never delivered (failed, or dropped on purpose).
  const deliverySuccess = optBool(p.delivery_success, 'delivery_success');
  const deliveryFilter = (id: string) => deliverySuccess === undefined || (sim.state.deliveries.get(id) === 'delivered') === deliverySuccess;
  const all = newestFirst(sim.state.events.values()).filter((e) => matchesType(e.type) && createdFilter(e.created) && deliveryFilter(e.id));
  return { status: 200, body: expand(sim, listPage(all, p, '/v1/events', 'event'), p) };
}

/** A thin event as `GET /v2/core/events/:id` answers it (what the SDK's `fetchEvent()` asks for). */
export function retrieveThinEvent(sim: SimulatorCore, ctx: RequestContext, id: string): Reply {
  allowOnly(ctx.params, []);
  const thin = sim.state.thinEvents.get(id) ?? sim.state.v2Events.get(id);
  if (!thin) throw noSuch('event', id);
  return { status: 200, body: clone(thin) };
}
