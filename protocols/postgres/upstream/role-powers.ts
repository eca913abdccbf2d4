import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import type { RolePowers } from '../../../src/policy/wider-privileges.js';
import { STORED_PASSWORDS, type UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import { builtinNamesInUse } from '../policy/functions.js';
import { runSimpleQuery } from './simple-query.js';

/** A SQL array literal of names we wrote ourselves (no quotes in them). */
function namesArray(names: readonly string[]): string {
  return `ARRAY[${names.map((n) => `'${n.replace(/'/g, "''")}'`).join(', ')}]::text[]`;
}

/**
 * What the connection's upstream role may do, from the catalogs (tables outside the system
 * schemas), and the functions and operators outside pg_catalog it can reach that carry the name of
 * a built-in a scoped session may use: an overload there can be resolved in the built-in's place.
 */
export async function readRolePowers(connection: ConnectionConfig, passwords: UpstreamPasswords = STORED_PASSWORDS): Promise<RolePowers> {
  const builtins = builtinNamesInUse();
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
         AND has_table_privilege(current_user, c.oid, p.privilege)
     UNION ALL
     SELECT 'shadow', n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', 'function'
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND has_schema_privilege(current_user, n.oid, 'USAGE')
         AND p.proname = ANY (${namesArray(builtins.functions)})
     UNION ALL
     SELECT 'shadow', n.nspname || '.' || o.oprname || '(' || format_type(o.oprleft, NULL) || ', ' || format_type(o.oprright, NULL) || ')', 'operator'
       FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND has_schema_privilege(current_user, n.oid, 'USAGE')
         AND o.oprname = ANY (${namesArray(builtins.operators)})`,
    passwords,
  );
  const powers = {
    superuser: false,
    createIn: [] as string[],
    privileges: [] as { schema: string; table: string; privilege: string }[],
    shadowedBuiltins: [] as string[],
  };
  for (const [kind, value, privilege] of rows) {
    if (kind === 'super') powers.superuser = value === 'true';
    else if (kind === 'create') powers.createIn.push(value ?? '');
    else if (kind === 'shadow') powers.shadowedBuiltins.push(`${privilege ?? ''} ${value ?? ''}`);
    else {
      const name = value ?? '';
      const dot = name.indexOf('.');
      powers.privileges.push({ schema: name.slice(0, dot), table: name.slice(dot + 1), privilege: privilege ?? '' });
    }
  }
  return powers;
}
