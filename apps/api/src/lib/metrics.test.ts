import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

const never = <T>() => new Promise<T>(() => {});
/** Scrapes come seconds apart; reads are shared only within one. */
const nextScrape = () => new Promise((r) => setTimeout(r, 5));
const value = (text: string, line: string) => text.split('\n').find((l) => l.startsWith(line))?.slice(line.length).trim() ?? null;

describe('scrape-time gauges while the database does not answer', () => {
  it('a scrape answers within the deadline with the gauges at their last value; the hung read is shared, not piled up, and counted once per scrape', async () => {
    let reads = 0;
    let answer: () => Promise<{ due: number; oldestDueAgeSeconds: number }> = async () => ({ due: 7, oldestDueAgeSeconds: 3 });
    const metrics = createMetrics({ inboxHealth: () => ((reads += 1), answer()), ordersMissingInvoice: never }, { sourceDeadlineMs: 150 });

    const first = await metrics.registry.metrics();
    expect(value(first, 'settle_inbox_due_events')).toBe('7');
    expect(value(first, 'settle_metrics_source_failures_total{source="orders_missing_invoice"}')).toBe('1');

    answer = never; // the database goes silent
    for (let scrape = 1; scrape <= 3; scrape += 1) {
      await nextScrape();
      const started = Date.now();
      const text = await metrics.registry.metrics();
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(value(text, 'settle_inbox_due_events')).toBe('7');
      expect(value(text, 'settle_inbox_oldest_due_age_seconds')).toBe('3');
      // Both inbox gauges share one read: one failure per scrape, not two.
      expect(value(text, 'settle_metrics_source_failures_total{source="inbox_health"}')).toBe(String(scrape));
    }
    // The one hung read served every later scrape: nothing piled up behind it.
    expect(reads).toBe(2);
  });

  it('a read that fails is counted and its gauge keeps its value', async () => {
    let fail = false;
    const metrics = createMetrics({ subscriptionsNeedingReview: async () => { if (fail) throw new Error('connection terminated'); return 4; } }, { sourceDeadlineMs: 150 });
    expect(value(await metrics.registry.metrics(), 'settle_subscriptions_needing_review')).toBe('4');
    fail = true;
    await nextScrape();
    const text = await metrics.registry.metrics();
    expect(value(text, 'settle_subscriptions_needing_review')).toBe('4');
    expect(value(text, 'settle_metrics_source_failures_total{source="subscriptions_needing_review"}')).toBe('1');
  });
});
