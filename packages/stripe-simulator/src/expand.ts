/** Stripe's `expand[]`: ids in an answer replaced by the objects they name. */
import type { SimulatorCore } from './core.js';
import { invalid, isRecord, optList, type Params } from './stripe-api.js';
import { clone, lookup } from './state.js';

/** Apply `expand[]` (dotted paths, `data.` for lists) to a copy about to be answered. */
export function expand<T>(sim: SimulatorCore, target: T, params: Params): T {
  const paths = optList(params.expand, 'expand') ?? [];
  for (const [i, path] of paths.entries()) {
    if (typeof path !== 'string') throw invalid('Invalid string', { param: `expand[${i}]` });
    expandPath(sim, target, path.split('.'), path);
  }
  return target;
}

function expandPath(sim: SimulatorCore, target: unknown, segments: string[], full: string): void {
  const [head, ...rest] = segments;
  if (head === undefined || !isRecord(target)) return;
  if (head === 'data' && target.object === 'list' && Array.isArray(target.data)) {
    for (const item of target.data) expandPath(sim, item, rest, full);
    return;
  }
  if (head === 'line_items' && target.object === 'checkout.session' && typeof target.id === 'string') {
    target.line_items = lineItemList(sim, target.id);
    expandPath(sim, target.line_items, rest, full);
    return;
  }
  let value = target[head];
  if (typeof value === 'string') {
    const found = lookup(sim.state, value);
    if (!found) throw invalid(`This property cannot be expanded (${full}). The simulator expands ids of the objects it stores.`, { param: 'expand' });
    value = target[head] = clone(found);
  } else if (value !== null && !isRecord(value)) {
    throw invalid(`This property cannot be expanded (${full}).`, { param: 'expand' });
  }
  expandPath(sim, value, rest, full);
}

/** A session's line items as the list object Stripe answers. */
export function lineItemList(sim: SimulatorCore, sessionId: string) {
  return { object: 'list', data: clone(sim.sessionExtras.get(sessionId)?.lineItems ?? []), has_more: false, url: `/v1/checkout/sessions/${sessionId}/line_items` };
}
