import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { devConsolePort } from '../api/src/dev-defaults.js';

// The dev server follows the API's PORT (as `pnpm dev` passes it to every package): its own port
// and its proxy target, so a second instance's console talks to its own API.
const apiPort = Number(process.env.PORT ?? 3000);
const api = process.env.SETTLE_API_URL ?? `http://127.0.0.1:${apiPort}`;
// changeOrigin stays false (Vite's string shorthand turns it on): the API sees the Host the browser
// addressed, so the console's Origin matches it and cookie-authenticated mutations pass the CSRF check.
const proxied = { target: api, changeOrigin: false };

export default defineConfig({
  base: '/admin/',
  plugins: [react()],
  server: {
    port: devConsolePort(apiPort, process.env),
    // Never move to another port silently: `pnpm dev` prints this one.
    strictPort: true,
    proxy: { '/trpc': proxied, '/metrics': proxied, '/readyz': proxied },
  },
  build: { outDir: 'dist', sourcemap: false },
});
