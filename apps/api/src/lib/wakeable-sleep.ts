/**
 * A worker loop's pause between polls that `wake()` cuts short. A wake while the loop is busy is
 * remembered, so the next pause returns at once: new work is never left waiting a full poll.
 */
export function createWakeableSleep() {
  let wakeSleeper: (() => void) | null = null;
  let woken = false;
  return {
    sleep(ms: number): Promise<void> {
      if (woken) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wakeSleeper = null;
          resolve();
        }
        wakeSleeper = done;
      });
    },
    wake(): void {
      if (wakeSleeper) wakeSleeper();
      else woken = true;
    },
  };
}
