/**
 * Functions a scoped session may call. A scope speaks of tables; a function can reach anything
 * (files, other databases, other sessions, or tables through its own code), so only built-ins
 * known to stay inside the statement are allowed. Everything else — user-defined functions
 * included — needs the `all` scope.
 */
const DENIED_PREFIXES = [
  'pg_read_',
  'pg_ls_',
  'pg_stat_file',
  'lo_',
  'dblink',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_signal_',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_file_',
  'pg_logdir_',
  'pg_promote',
  'pg_create_',
  'pg_drop_',
  'pg_replication_',
  'pg_logical_',
  'pg_switch_wal',
  'pg_backup_',
  'pg_import_system_collations',
  'pg_advisory',
];
const DENIED = new Set([
  'query_to_xml',
  'query_to_xml_and_xmlschema',
  'cursor_to_xml',
  'table_to_xml',
  'table_to_xmlschema',
  'database_to_xml',
  'schema_to_xml',
  'nextval',
  'setval',
  'currval',
  'lastval',
]);

const ALLOWED = new Set(
  `count sum avg min max bool_and bool_or every array_agg string_agg json_agg jsonb_agg json_object_agg jsonb_object_agg
   stddev stddev_pop stddev_samp variance var_pop var_samp percentile_cont percentile_disc mode corr covar_pop covar_samp
   row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
   now clock_timestamp statement_timestamp transaction_timestamp timeofday date_trunc date_part date_bin extract age
   make_date make_time make_timestamp make_timestamptz make_interval to_timestamp to_date to_char to_number justify_days
   justify_hours justify_interval isfinite
   abs ceil ceiling floor round trunc sign sqrt cbrt exp ln log log10 power pow mod div gcd lcm pi degrees radians
   random setseed sin cos tan asin acos atan atan2 width_bucket scale factorial
   length char_length character_length octet_length bit_length lower upper initcap trim btrim ltrim rtrim lpad rpad
   substr substring left right position strpos replace reverse repeat split_part concat concat_ws format quote_ident
   quote_literal quote_nullable regexp_replace regexp_match regexp_matches regexp_split_to_array regexp_split_to_table
   regexp_count regexp_like starts_with translate ascii chr md5 sha224 sha256 sha384 sha512 encode decode convert_from
   convert_to to_hex string_to_array array_to_string unnest array_length array_lower array_upper cardinality array_position
   array_positions array_append array_prepend array_cat array_remove array_replace array_fill array_dims generate_series
   generate_subscripts coalesce nullif greatest least num_nonnulls num_nulls
   json_build_object jsonb_build_object json_build_array jsonb_build_array to_json to_jsonb row_to_json array_to_json
   json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text jsonb_set jsonb_insert
   jsonb_path_query jsonb_path_query_array jsonb_path_query_first jsonb_path_exists jsonb_path_match jsonb_pretty
   json_array_elements jsonb_array_elements json_array_elements_text jsonb_array_elements_text json_each jsonb_each
   json_each_text jsonb_each_text json_object_keys jsonb_object_keys json_typeof jsonb_typeof jsonb_strip_nulls
   json_array_length jsonb_array_length jsonb_object json_object
   gen_random_uuid uuid_generate_v4 current_setting current_database current_schema current_schemas current_user
   session_user version pg_backend_pid pg_sleep pg_typeof pg_column_size inet_client_addr inet_server_addr
   has_table_privilege has_schema_privilege has_column_privilege has_database_privilege has_function_privilege
   pg_get_userbyid pg_get_expr pg_get_indexdef pg_get_constraintdef pg_get_viewdef pg_get_triggerdef pg_get_functiondef
   pg_table_is_visible pg_type_is_visible pg_function_is_visible format_type obj_description col_description
   shobj_description pg_get_serial_sequence pg_encoding_to_char pg_relation_size pg_total_relation_size pg_size_pretty
   pg_table_size pg_indexes_size pg_database_size pg_postmaster_start_time pg_is_in_recovery pg_get_keywords
   array_in textin int4in to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_rank ts_headline
   pg_catalog.pg_get_statisticsobjdef_columns pg_get_partkeydef pg_get_statisticsobjdef pg_get_ruledef pg_get_function_arguments
   pg_get_function_result pg_get_function_identity_arguments pg_get_triggerdef pg_get_constraintdef`
    .split(/\s+/)
    .filter((s) => s !== ''),
);

/** Every operator name the server defines itself (pg_operator of a fresh cluster). */
const BUILTIN_OPERATORS = new Set(
  `!! !~ !~* !~~ !~~* # ## #- #> #>> % & && &< &<| &> * *< *<= *<> *= *> *>= + - -> ->> -|- / < <-> << <<= <<| <= <>
   <@ <^ = > >= >> >>= >^ ? ?# ?& ?- ?-| ?| ?|| @ @-@ @> @? @@ @@@ ^ ^@ | |&> |/ |>> || ||/ ~ ~* ~<=~ ~<~ ~= ~>=~
   ~>~ ~~ ~~* !=`
    .split(/\s+/)
    .filter((s) => s !== ''),
);

/**
 * An operator a scoped session may use: one of the server's own names, unqualified or in
 * pg_catalog. A user-defined operator runs a user-defined function, which needs the `all` scope.
 */
export function isAllowedOperator(name: string, schema: string | undefined): boolean {
  return (schema === undefined || schema === 'pg_catalog') && BUILTIN_OPERATORS.has(name);
}

/** TABLESAMPLE methods built into the server (others are extension or user code). */
export function isAllowedSamplingMethod(name: string): boolean {
  return name === 'system' || name === 'bernoulli';
}

/** The names a scoped session may call or use unqualified: a user-defined object of the same name could be resolved instead. */
export function builtinNamesInUse(): { readonly functions: readonly string[]; readonly operators: readonly string[] } {
  return { functions: [...ALLOWED].filter((n) => !n.includes('.')), operators: [...BUILTIN_OPERATORS] };
}

export function isDeniedFunction(name: string): boolean {
  return DENIED.has(name) || DENIED_PREFIXES.some((p) => name.startsWith(p));
}

/** A built-in a scoped session may call (psql's \\d and drivers' catalog queries included). */
export function isAllowedFunction(name: string, schema: string | undefined): boolean {
  if (schema !== undefined && schema !== 'pg_catalog') return false;
  return ALLOWED.has(name);
}
