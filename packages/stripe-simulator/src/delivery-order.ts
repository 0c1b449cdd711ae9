/** Stripe's delivery habits, reproducible: duplicates and any order, from a seeded generator. */

/** Deterministic pseudo-random numbers (mulberry32), so a shuffled delivery can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stripe's delivery: some events twice, in any order. */
export function deliveryOrder<T>(events: T[], opts: { duplicates?: number; shuffle?: boolean; random?: () => number }): T[] {
  const random = opts.random ?? Math.random;
  const out = [...events];
  if (opts.duplicates) for (const ev of events) if (random() < opts.duplicates) out.push(ev);
  if (opts.shuffle) {
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
  }
  return out;
}
