/** Stripe's list objects: a page of newest-first items with cursor paging (`starting_after`, `ending_before`). */
import { invalid, noSuch, optInt, optString, type Params } from './stripe-api.js';
import { clone } from './state.js';

/** The page `params` ask for of `all` (already filtered and in Stripe's order), as the list object Stripe answers. */
export function listPage<T extends { id: string }>(all: T[], p: Params, url: string, kind: string) {
  const limit = optInt(p.limit, 'limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalid('Invalid limit: must be between 1 and 100', { param: 'limit' });
  const startingAfter = optString(p.starting_after, 'starting_after');
  const endingBefore = optString(p.ending_before, 'ending_before');
  let page: T[];
  let hasMore: boolean;
  if (endingBefore) {
    const at = all.findIndex((e) => e.id === endingBefore);
    if (at < 0) throw noSuch(kind, endingBefore, 'ending_before');
    page = all.slice(Math.max(0, at - limit), at);
    hasMore = at - limit > 0;
  } else {
    let from = 0;
    if (startingAfter) {
      const at = all.findIndex((e) => e.id === startingAfter);
      if (at < 0) throw noSuch(kind, startingAfter, 'starting_after');
      from = at + 1;
    }
    page = all.slice(from, from + limit);
    hasMore = all.length > from + limit;
  }
  return { object: 'list', data: clone(page), has_more: hasMore, url };
}

/** Newest first, as Stripe lists: by `created`, the later-stored first within one second. */
export function newestFirst<T extends { [field: string]: unknown }>(items: Iterable<T>): T[] {
  return [...items].reverse().sort((a, b) => Number(b.created ?? 0) - Number(a.created ?? 0));
}
