/**
 * Statement types by what the scope check makes of them (libpg_query's node names).
 */

/** Statements that change the schema (a `ddl` grant), walked for the tables and functions they name. */
export const DDL = new Set([
  'CreateStmt',
  'AlterTableStmt',
  'DropStmt',
  'CommentStmt',
  'IndexStmt',
  'ViewStmt',
  'CreateSeqStmt',
  'AlterSeqStmt',
  'RenameStmt',
  'CreateSchemaStmt',
  'CreateDomainStmt',
  'CreateEnumStmt',
  'CompositeTypeStmt',
  'AlterEnumStmt',
  'AlterObjectSchemaStmt',
  'AlterOwnerStmt',
  'RuleStmt',
  'CreateStatsStmt',
  'CreateTableSpaceStmt',
  'ReindexStmt',
  'RefreshMatViewStmt',
  'CreatePolicyStmt',
  'AlterPolicyStmt',
  'ClusterStmt',
  'VacuumStmt',
]);
/**
 * Statements that create code the server runs by itself later (functions, triggers, operators,
 * aggregates, types with I/O functions, extensions): the gateway cannot see into that code, so
 * they need the `all` scope even when the scope has ddl.
 */
export const CODE = new Set([
  'CreateFunctionStmt',
  'AlterFunctionStmt',
  'CreateTrigStmt',
  'DefineStmt',
  'CreateExtensionStmt',
  'CreateEventTrigStmt',
]);
/** Housekeeping that touches no table and changes no right. */
export const HOUSEKEEPING = new Set(['VariableShowStmt', 'DiscardStmt', 'DeallocateStmt', 'UnlistenStmt', 'ClosePortalStmt', 'FetchStmt']);
/** Two-phase commit names a transaction any session of the same role may finish: another agent's. */
export const TWO_PHASE = new Set(['TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']);
