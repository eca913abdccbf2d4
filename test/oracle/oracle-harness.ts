import { Harness } from '../support/harness.js';
import { ORACLE_SERVER_SETTINGS } from './oracle-database.js';
import type { OracleScope } from './scope-oracle.js';

/** The scopes the oracle checks: tables named and not, read and write, and read on every table (which admits the statistics catalogs). */
export const ORACLE_SCOPES: readonly OracleScope[] = [
  { role: 'Oracle.ReadRecords', scope: 'read:records' },
  { role: 'Oracle.WriteRecords', scope: 'write:records' },
  { role: 'Oracle.ReadWriteRecords', scope: 'read:records write:records,other listen:ch' },
  { role: 'Oracle.Read', scope: 'read' },
];

/** A harness whose server counts every function call, with one identity-map entry per oracle scope. */
export function startOracleHarness(): Promise<Harness> {
  return Harness.start({
    cluster: { settings: ORACLE_SERVER_SETTINGS },
    identityMap: [
      ...ORACLE_SCOPES.map(({ role, scope }) => ({ 'entra-app-role': role, connection: 'records-api', scope })),
      // Forwards everything: the oracle's own check that it sees a bypass when there is one.
      { 'entra-app-role': 'Oracle.All', connection: 'records-api', scope: 'all' },
    ],
  });
}
