import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * PGlite is one embedded PostgreSQL inside one process: a second process opening the same folder
 * (the admin-token CLI beside a running `pnpm dev`, or a second server) writes the same files
 * without any coordination, and the database can be corrupted. A running server therefore keeps a
 * lock file beside the folder (`<dir>.server.lock`, its pid and URL) that other processes check.
 */
export type PgliteLockHolder = { pid: number; url: string | null };

function lockPath(dir: string): string {
  return `${resolve(dir)}.server.lock`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live server holding `dir`, or null (no lock, or a stale one left by a killed process). */
export function pgliteLockHolder(dir: string): PgliteLockHolder | null {
  let holder: PgliteLockHolder;
  try {
    holder = JSON.parse(readFileSync(lockPath(dir), 'utf8')) as PgliteLockHolder;
  } catch {
    return null;
  }
  return Number.isInteger(holder.pid) && holder.pid !== process.pid && alive(holder.pid) ? holder : null;
}

/**
 * Take the lock for this process; throws when another live server holds it. Released when the
 * process exits (a SIGKILLed holder leaves a stale file, which the next taker ignores).
 */
export function holdPgliteLock(dir: string): { setUrl(url: string): void } {
  const other = pgliteLockHolder(dir);
  if (other) {
    throw new Error(`another Settle server (pid ${other.pid}${other.url ? `, ${other.url}` : ''}) is using the PGlite folder ${resolve(dir)}; stop it or set PGLITE_DIR to another folder`);
  }
  const file = lockPath(dir);
  mkdirSync(dirname(file), { recursive: true });
  const write = (url: string | null) => writeFileSync(file, JSON.stringify({ pid: process.pid, url } satisfies PgliteLockHolder));
  write(null);
  process.once('exit', () => {
    try {
      if ((JSON.parse(readFileSync(file, 'utf8')) as PgliteLockHolder).pid === process.pid) unlinkSync(file);
    } catch {
      // already gone
    }
  });
  return { setUrl: write };
}
