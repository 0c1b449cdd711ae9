/**
 * Wait for `work` at most `ms`: true when it settled in time (whatever its outcome), false when
 * the time ran out first. The work goes on either way; this only stops waiting for it.
 */
export async function settledWithin(work: Promise<unknown> | undefined | null, ms: number): Promise<boolean> {
  if (!work) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
    timer.unref();
  });
  const done = work.then(() => true as const, () => true as const);
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}
