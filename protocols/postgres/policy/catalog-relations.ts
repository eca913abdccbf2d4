import { builtinsOf } from './builtins/builtins-of.js';

/**
 * The system catalogs sorted by what reading them reveals. Reading a catalog is not always reading
 * metadata: `pg_stats` holds a table's most common values and histogram bounds, and
 * `pg_stat_activity` holds every session's current statement with its literals — and every agent
 * of a connection shares its upstream role, so Postgres's own visibility rules do not separate
 * them. A name that is in none of these lists is not read at all under a parsed scope (a future
 * release's new view is refused until it is sorted here).
 */
export type CatalogClass =
  /** Structure, names, types, privileges, settings: what drivers and psql's `\d` need. */
  | 'metadata'
  /** Row data or statistics of every table: a read of every table. */
  | 'every-table'
  /** Other sessions, the server's files or its replication: never under a parsed scope. */
  | 'server';

const words = (text: string): string[] => text.split(/\s+/).filter((w) => w !== '');

const PG_CATALOG: ReadonlyMap<string, CatalogClass> = new Map<string, CatalogClass>([
  ...words(`
    pg_aggregate pg_am pg_amop pg_amproc pg_attrdef pg_attribute pg_auth_members pg_available_extension_versions
    pg_available_extensions pg_cast pg_class pg_collation pg_constraint pg_conversion pg_cursors pg_database
    pg_default_acl pg_depend pg_description pg_enum pg_event_trigger pg_extension pg_foreign_data_wrapper
    pg_foreign_server pg_foreign_table pg_group pg_index pg_indexes pg_inherits pg_init_privs pg_language
    pg_largeobject_metadata pg_matviews pg_namespace pg_opclass pg_operator pg_opfamily pg_parameter_acl
    pg_partitioned_table pg_policies pg_policy pg_prepared_statements pg_proc pg_publication pg_publication_namespace
    pg_publication_rel pg_publication_tables pg_range pg_rewrite pg_roles pg_rules pg_seclabel pg_seclabels
    pg_sequence pg_settings pg_shdepend pg_shdescription pg_shseclabel pg_statistic_ext pg_tables pg_tablespace
    pg_timezone_abbrevs pg_timezone_names pg_transform pg_trigger pg_ts_config pg_ts_config_map pg_ts_dict
    pg_ts_parser pg_ts_template pg_type pg_user pg_views`).map((n): [string, CatalogClass] => [n, 'metadata']),
  // Values, statistics and counters of every table; a sequence's last value is its table's data too.
  ...words(`
    pg_statistic pg_statistic_ext_data pg_stats pg_stats_ext pg_stats_ext_exprs pg_sequences pg_largeobject
    pg_stat_all_indexes pg_stat_all_tables pg_stat_sys_indexes pg_stat_sys_tables pg_stat_user_indexes
    pg_stat_user_tables pg_stat_user_functions pg_stat_xact_all_tables pg_stat_xact_sys_tables
    pg_stat_xact_user_functions pg_stat_xact_user_tables pg_statio_all_indexes pg_statio_all_sequences
    pg_statio_all_tables pg_statio_sys_indexes pg_statio_sys_sequences pg_statio_sys_tables pg_statio_user_indexes
    pg_statio_user_sequences pg_statio_user_tables`).map((n): [string, CatalogClass] => [n, 'every-table']),
  // Other sessions' statements, locks and transactions; the server's files, memory, credentials and replication.
  ...words(`
    pg_stat_activity pg_locks pg_prepared_xacts pg_stat_ssl pg_stat_gssapi pg_stat_progress_analyze
    pg_stat_progress_basebackup pg_stat_progress_cluster pg_stat_progress_copy pg_stat_progress_create_index
    pg_stat_progress_vacuum pg_stat_replication pg_stat_replication_slots pg_stat_wal_receiver pg_stat_subscription
    pg_stat_subscription_stats pg_stat_database pg_stat_database_conflicts pg_stat_archiver pg_stat_bgwriter
    pg_stat_checkpointer pg_stat_io pg_stat_slru pg_stat_wal pg_stat_recovery_prefetch pg_backend_memory_contexts
    pg_shmem_allocations pg_shmem_allocations_numa pg_file_settings pg_hba_file_rules pg_ident_file_mappings pg_config
    pg_authid pg_shadow pg_user_mapping pg_user_mappings pg_db_role_setting pg_subscription pg_subscription_rel
    pg_replication_origin pg_replication_origin_status pg_replication_slots pg_wait_events pg_aios`).map((n): [string, CatalogClass] => [
    n,
    'server',
  ]),
]);

/**
 * information_schema is built on privilege-filtered metadata; none of its views holds row data or
 * another session's activity. Its user-mapping views can show options (passwords) and are refused.
 */
const INFORMATION_SCHEMA_SERVER = new Set(['_pg_user_mappings', 'user_mappings', 'user_mapping_options']);

/** How a catalog relation is classed; undefined when it is not a known one (refused). */
export function catalogClass(schema: 'pg_catalog' | 'information_schema', name: string): CatalogClass | undefined {
  if (schema === 'information_schema') return INFORMATION_SCHEMA_SERVER.has(name) ? 'server' : 'metadata';
  return PG_CATALOG.get(name);
}

/**
 * Whether an unqualified name is a pg_catalog relation of the server's version (the generated
 * list, not the sorted one: a relation this file does not sort yet still resolves there, and is
 * refused as unknown). pg_catalog comes first in the search path unless named in it, so a name
 * that exists there resolves there; any other name, pg_-prefixed or not, is a table of the
 * session's own schema.
 */
export function isCatalogRelation(name: string, major: number): boolean {
  return builtinsOf(major).catalogRelations.has(name);
}

/** Every pg_catalog relation this file sorts (for the test that a version brings no unsorted one). */
export function sortedCatalogRelations(): ReadonlySet<string> {
  return new Set(PG_CATALOG.keys());
}
