import { describe, expect, it } from 'vitest';
import {
  ORDER_STATUSES,
  ORDER_TRANSITIONS,
  STATUS_RANK,
  TERMINAL_STATUSES,
  canOverride,
  canTransition,
  isOrderStatus,
  isTerminal,
  type OrderStatus,
} from './order-state.js';

describe('order state machine', () => {
  it('has a transition entry for every status and nothing else', () => {
    expect(Object.keys(ORDER_TRANSITIONS).sort()).toEqual([...ORDER_STATUSES].sort());
  });

  it('only transitions to known statuses, never to itself', () => {
    for (const [from, tos] of Object.entries(ORDER_TRANSITIONS)) {
      for (const to of tos) {
        expect(isOrderStatus(to), `${from} -> ${to}`).toBe(true);
        expect(to, `${from} self-loop`).not.toBe(from);
      }
    }
  });

  it('the terminal state is exactly charged_back (a refund can fail), and maps to []', () => {
    expect([...TERMINAL_STATUSES].sort()).toEqual(['charged_back']);
    for (const s of TERMINAL_STATUSES) expect(ORDER_TRANSITIONS[s]).toEqual([]);
    expect(isTerminal('needs_review')).toBe(false);
  });

  it('needs_review has no automatic exit; an admin override may go anywhere else', () => {
    expect(ORDER_TRANSITIONS.needs_review).toEqual([]);
    for (const to of ORDER_STATUSES) expect(canOverride('needs_review', to)).toBe(to !== 'needs_review');
  });

  it('every status is reachable from pending', () => {
    const seen = new Set<OrderStatus>(['pending']);
    const queue: OrderStatus[] = ['pending'];
    while (queue.length > 0) {
      for (const to of ORDER_TRANSITIONS[queue.shift()!]) {
        if (!seen.has(to)) {
          seen.add(to);
          queue.push(to);
        }
      }
    }
    expect([...seen].sort()).toEqual([...ORDER_STATUSES].sort());
  });

  it.each(ORDER_STATUSES)('%s has a finite rank', (s) => {
    expect(Number.isFinite(STATUS_RANK[s])).toBe(true);
  });

  it('ranks: pending lowest, needs_review highest, succeeded above attempts and cancellation', () => {
    const ranks = ORDER_STATUSES.map((s) => STATUS_RANK[s]);
    expect(Math.min(...ranks)).toBe(STATUS_RANK.pending);
    expect(Math.max(...ranks)).toBe(STATUS_RANK.needs_review);
    for (const s of ['processing', 'requires_action', 'failed', 'canceled'] as const) {
      expect(STATUS_RANK.succeeded).toBeGreaterThan(STATUS_RANK[s]);
    }
  });

  it.each([
    ['pending', 'succeeded', true],
    ['failed', 'succeeded', true],
    ['succeeded', 'failed', false],
    ['succeeded', 'charged_back', true],
    ['canceled', 'succeeded', false],
    ['canceled', 'needs_review', true],
    ['refunded', 'succeeded', true],
    ['charged_back', 'succeeded', false],
  ] as const)('canTransition(%s, %s) = %s', (from, to, ok) => {
    expect(canTransition(from, to)).toBe(ok);
  });

  it('isOrderStatus rejects non-statuses', () => {
    expect(isOrderStatus('paid')).toBe(false);
    expect(isOrderStatus(undefined)).toBe(false);
    expect(isOrderStatus('succeeded')).toBe(true);
  });
});
