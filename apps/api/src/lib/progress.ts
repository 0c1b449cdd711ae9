/**
 * Whether background work is moving, for readiness: a unit of work (a worker's batch) that has
 * been running longer than the stall limit means the process is wedged on something (a database
 * that stopped answering), even if a fresh `select 1` might pass. Each unit is tracked from start
 * to end; nothing is sampled.
 */
export type ProgressWatch = {
  /** Track `work` while it runs under `name`; returns it unchanged. */
  track<T>(name: string, work: Promise<T>): Promise<T>;
  /** The oldest unit still running: its name and age, or null when none runs. */
  oldest(): { name: string; ageMs: number } | null;
};

export function createProgressWatch(now: () => number = Date.now): ProgressWatch {
  const running = new Map<symbol, { name: string; since: number }>();
  return {
    track(name, work) {
      const key = Symbol(name);
      running.set(key, { name, since: now() });
      return work.finally(() => running.delete(key));
    },
    oldest() {
      let found: { name: string; since: number } | null = null;
      for (const unit of running.values()) if (!found || unit.since < found.since) found = unit;
      return found ? { name: found.name, ageMs: now() - found.since } : null;
    },
  };
}
