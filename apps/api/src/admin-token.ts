import { ADMIN_ROLES, createAdminToken, createDatabase, migrateDatabase, recordAdminAction, revokeAdminToken, type AdminRole } from '@settle/db';
import { parseEnv } from './env.js';
import { pgliteLockHolder } from './lib/pglite-lock.js';

/**
 * Admin API tokens for automation:
 *   pnpm admin-token create <name> [viewer|operator|owner]   prints the token once
 *   pnpm admin-token revoke <name>
 */
const [command, name, roleArg = 'operator'] = process.argv.slice(2);
const usage = 'usage: admin-token create <name> [viewer|operator|owner] | admin-token revoke <name>';
if (!name || (command !== 'create' && command !== 'revoke')) {
  console.error(usage);
  process.exit(2);
}
if (!(ADMIN_ROLES as readonly string[]).includes(roleArg)) {
  console.error(`role must be one of ${ADMIN_ROLES.join(', ')}`);
  process.exit(2);
}

const env = parseEnv(process.env);
const server = env.DATABASE_URL ? null : pgliteLockHolder(env.PGLITE_DIR);
if (server) {
  // Two processes on one embedded database can corrupt it; the running server must do this.
  console.error(
    `A running Settle server (pid ${server.pid}${server.url ? `, ${server.url}` : ''}) holds the PGlite folder ${env.PGLITE_DIR}.\n` +
      'Create or revoke tokens there instead: in the console (Accounts → API tokens), or with the admin.tokens.create / admin.tokens.revoke procedures (owner). Or stop the server first.',
  );
  process.exit(1);
}
const database = await createDatabase({ databaseUrl: env.DATABASE_URL, pgliteDir: env.PGLITE_DIR });
try {
  await migrateDatabase(database);
  if (command === 'create') {
    const { token } = await createAdminToken(database.db, { name, role: roleArg as AdminRole, createdBy: 'cli' });
    await recordAdminAction(database.db, { actor: 'cli', action: 'tokens.create', target: `token:${name}`, reason: 'admin-token CLI', details: { role: roleArg } });
    console.log(token);
  } else if (await revokeAdminToken(database.db, name)) {
    await recordAdminAction(database.db, { actor: 'cli', action: 'tokens.revoke', target: `token:${name}`, reason: 'admin-token CLI', details: {} });
  } else {
    console.error(`no active token named ${name}`);
    process.exitCode = 1;
  }
} finally {
  await database.close();
}
