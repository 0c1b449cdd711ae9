import { ADMIN_ROLES, createAdminToken, createDatabase, migrateToLatest, recordAdminAction, revokeAdminToken, type AdminRole } from '@settle/db';
import { parseEnv } from './env.js';

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
const database = await createDatabase({ databaseUrl: env.DATABASE_URL, pgliteDir: env.PGLITE_DIR });
try {
  await migrateToLatest(database.db);
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
