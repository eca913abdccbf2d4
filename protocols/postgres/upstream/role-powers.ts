import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import type { RolePowers } from '../../../src/policy/wider-privileges.js';
import { STORED_PASSWORDS, type UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import { runSimpleQuery } from './simple-query.js';

/**
 * What the connection's upstream role may do, from the catalogs (tables outside the system
 * schemas). The overloads of built-in names scoped sessions refuse are checkScopedUpstream's.
 */
export async function readRolePowers(connection: ConnectionConfig, passwords: UpstreamPasswords = STORED_PASSWORDS): Promise<RolePowers> {
  const rows = await runSimpleQuery(
    connection,
    `SELECT 'super', rolsuper::text, '' FROM pg_roles WHERE rolname = current_user
     UNION ALL
     SELECT 'create', nspname, '' FROM pg_namespace
       WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
         AND has_schema_privilege(current_user, oid, 'CREATE')
     UNION ALL
     SELECT 'table', n.nspname || '.' || c.relname, p.privilege
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p(privilege)
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND has_table_privilege(current_user, c.oid, p.privilege)`,
    passwords,
  );
  const powers = {
    superuser: false,
    createIn: [] as string[],
    privileges: [] as { schema: string; table: string; privilege: string }[],
  };
  for (const [kind, value, privilege] of rows) {
    if (kind === 'super') powers.superuser = value === 'true';
    else if (kind === 'create') powers.createIn.push(value ?? '');
    else {
      const name = value ?? '';
      const dot = name.indexOf('.');
      powers.privileges.push({ schema: name.slice(0, dot), table: name.slice(dot + 1), privilege: privilege ?? '' });
    }
  }
  return powers;
}
