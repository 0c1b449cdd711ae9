// Bundles the API and the workspace packages it uses (TypeScript sources) into dist/main.js;
// npm dependencies stay external and load from node_modules.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const manifest = (path) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'));
const external = new Set();
for (const path of ['./package.json', '../../packages/db/package.json', '../../packages/payments-core/package.json']) {
  for (const name of Object.keys(manifest(path).dependencies ?? {})) if (!name.startsWith('@settle/')) external.add(name);
}

await build({
  absWorkingDir: new URL('.', import.meta.url).pathname,
  entryPoints: ['src/main.ts'],
  outfile: 'dist/main.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  external: [...external].flatMap((name) => [name, `${name}/*`]),
  logLevel: 'info',
});
