import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium; never a browser a tool downloads. */
export const CHROMIUM = '/usr/bin/chromium';
export const ADMIN_DIR = fileURLToPath(new URL('..', import.meta.url));
export const SCREENSHOTS = resolve(ADMIN_DIR, 'test-results/screenshots');
// CI installs Chromium (.ci/needs-chromium) and must run the browser tests; elsewhere, no Chromium means skip.
export const NO_BROWSER = !existsSync(CHROMIUM) && !process.env.CI;

/** Build the console from source into a throwaway folder: the tests always run what is in src/. */
export function buildConsole(): string {
  const dir = mkdtempSync(join(tmpdir(), 'settle-console-'));
  execFileSync(resolve(ADMIN_DIR, 'node_modules/.bin/vite'), ['build', '--outDir', dir, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: ADMIN_DIR,
    stdio: 'inherit',
    // Vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
    env: { ...process.env, NODE_ENV: 'production' },
  });
  return dir;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}
