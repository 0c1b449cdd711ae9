import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const api = process.env.SETTLE_API_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  base: '/admin/',
  plugins: [react()],
  server: {
    port: 5173,
    proxy: { '/trpc': api, '/metrics': api, '/readyz': api },
  },
  build: { outDir: 'dist', sourcemap: false },
});
