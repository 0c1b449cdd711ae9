import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('.', import.meta.url));
const FORBIDDEN_PACKAGES = ['stripe', '@settle/db', 'kysely', 'pg'];
const FORBIDDEN_GLOBALS: [string, RegExp][] = [
  ['Date.now', /\bDate\s*\.\s*now\b/],
  ['new Date(', /\bnew\s+Date\s*\(/],
  ['Math.random', /\bMath\s*\.\s*random\b/],
  ['process.', /\bprocess\s*\./],
];
const IMPORT_PATTERNS = [
  /\bfrom\s*['"]([^'"]+)['"]/g, // import ... from 'x', export ... from 'x' (multi-line too)
  /\bimport\s*['"]([^'"]+)['"]/g, // import 'x'
  /\bimport\s*\(\s*['"]([^'"]+)['"]/g, // import('x')
  /\brequire\s*\(\s*['"]([^'"]+)['"]/g, // require('x')
];

function isForbiddenImport(spec: string): boolean {
  if (spec.startsWith('node:')) return true;
  const root = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  return FORBIDDEN_PACKAGES.includes(root) || builtinModules.includes(root);
}

/** Everything in `source` that would make payments-core impure. */
function violations(source: string): string[] {
  const imports = IMPORT_PATTERNS.flatMap((re) => [...source.matchAll(re)].map((m) => m[1]!));
  return [
    ...imports.filter(isForbiddenImport).map((s) => `import ${s}`),
    ...FORBIDDEN_GLOBALS.filter(([, re]) => re.test(source)).map(([name]) => name),
  ];
}

const sources = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => [f, readFileSync(join(SRC, f), 'utf8')] as const);

describe('payments-core purity', () => {
  it('finds the source files', () => {
    expect(sources.map(([f]) => f)).toEqual(expect.arrayContaining(['decide.ts', 'order-state.ts', 'stripe-event.mapper.ts']));
  });

  it.each(sources)('%s imports no I/O and reads no clock, randomness or environment', (_, source) => {
    expect(violations(source)).toEqual([]);
  });

  it.each([
    [`import Stripe from 'stripe';`, ['import stripe']],
    [`import type { Db } from '@settle/db/schema';`, ['import @settle/db/schema']],
    [`import {\n  sql,\n} from 'kysely';`, ['import kysely']],
    [`import { Pool } from "pg";`, ['import pg']],
    [`import { readFile } from 'node:fs/promises';`, ['import node:fs/promises']],
    [`import * as path from 'path';`, ['import path']],
    [`import { randomUUID } from 'crypto';`, ['import crypto']],
    [`const http = await import('http');`, ['import http']],
    [`export * from 'fs/promises';`, ['import fs/promises']],
    [`const t = Date.now();`, ['Date.now']],
    [`const d = new Date(0);`, ['new Date(']],
    [`const r = Math.random();`, ['Math.random']],
    [`const k = process.env.KEY;`, ['process.']],
    [`import { decide } from './decide.js';\nimport { x } from 'stripe-like';\nconst at = ctx.at; // Date.nowhere`, []],
  ])('the detector flags %j', (source, expected) => {
    expect(violations(source)).toEqual(expected);
  });
});
