import { describe, expect, it } from 'vitest';
import { isFetchFailure, reopenDelayMs, stopsPolling } from './flag-source.js';

describe('an SDK that stopped polling', () => {
  it('is recognised from the messages unleash-client 6 emits on 401 and 403, and only those', () => {
    const stopped = (s: number) => `http://u/api/client/features responded ${s} which means your API key is not allowed to connect. Stopping refresh of toggles`;
    expect([401, 403].map((s) => [isFetchFailure(stopped(s)), stopsPolling(stopped(s))])).toEqual([[true, true], [true, true]]);
    for (const backingOff of ['http://u/api/client/features responded 500. Backing off', 'http://u/api/client/features responded FILE_NOT_FOUND (404). Backing off', 'http://u/api/client/features responded TOO_MANY_CONNECTIONS (429). Backing off']) {
      expect(stopsPolling(backingOff)).toBe(false);
    }
    // Metrics the server refuses stop metrics only; flags are still polled.
    expect(stopsPolling('http://u/api/client/metrics returning 401, stopping metrics')).toBe(false);
  });

  it('is reopened after the poll interval, doubling, at most every 5 minutes', () => {
    expect([1, 2, 3, 4].map((n) => reopenDelayMs(15_000, n))).toEqual([15_000, 30_000, 60_000, 120_000]);
    expect(reopenDelayMs(15_000, 6)).toBe(300_000);
    expect(reopenDelayMs(15_000, 1_000)).toBe(300_000);
    // A poll interval longer than the cap is kept as it is.
    expect(reopenDelayMs(600_000, 3)).toBe(600_000);
  });
});
