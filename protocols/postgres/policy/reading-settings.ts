/**
 * Settings that change what a statement does without its text saying so. An approval pins a text
 * (and a prepared statement's types and values), but the same text deletes other rows when the
 * session reads `'03/04/2025'` day-first (`DateStyle`), shifts `timestamptz` literals
 * (`TimeZone`), turns `x = NULL` into `x IS NULL` (`transform_null_equals`), or lets a row
 * security policy see another tenant (a custom setting such as `app.tenant`). So an approval also
 * pins the session's settings from its login, and a session that changes one after login runs
 * no approved statement.
 *
 * What counts is everything but a short list of settings known to change only how fast a
 * statement runs, how long it may wait, what messages the client gets, or the session's label:
 * a setting not on the list (a new release's, an extension's, a custom one) counts.
 */
const NEUTRAL = new Set([
  'application_name',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'idle_session_timeout',
  'transaction_timeout',
  'client_min_messages',
  'work_mem',
  'maintenance_work_mem',
  'hash_mem_multiplier',
  'temp_buffers',
  'random_page_cost',
  'seq_page_cost',
  'cpu_tuple_cost',
  'cpu_index_tuple_cost',
  'cpu_operator_cost',
  'parallel_setup_cost',
  'parallel_tuple_cost',
  'min_parallel_table_scan_size',
  'min_parallel_index_scan_size',
  'effective_cache_size',
  'effective_io_concurrency',
  'maintenance_io_concurrency',
  'max_parallel_workers_per_gather',
  'max_parallel_maintenance_workers',
  'cursor_tuple_fraction',
  'from_collapse_limit',
  'join_collapse_limit',
  'plan_cache_mode',
  'constraint_exclusion',
  'default_statistics_target',
  'synchronous_commit',
  'default_transaction_isolation',
  'default_transaction_deferrable',
  'default_transaction_read_only',
  'transaction_isolation',
  'transaction_deferrable',
  'transaction_read_only',
  // The server's own state, reported when a standby is promoted: not something a session sets.
  'in_hot_standby',
  // Upstream the session always reads UTF-8 (the gateway sets it last at login, and refuses a change).
  'client_encoding',
]);
/** Families of planner and executor switches: they choose a plan, not a result. */
const NEUTRAL_PREFIXES = ['enable_', 'geqo', 'jit'];

/**
 * Whether a session that sets `name` (to `value`, when it is a constant) reads statements
 * differently. `extra_float_digits` changes only how a float is written as text, and every value
 * above 0 writes the same shortest exact form on the servers the gateway reads (12 and later);
 * pgJDBC sets 3 after every login. 0 and below round, so they count.
 */
export function changesReading(name: string, value?: string): boolean {
  const lower = name.toLowerCase();
  if (lower === 'extra_float_digits') return value === undefined || !/^\s*\+?0*[1-9]\d*\s*$/.test(value);
  return !NEUTRAL.has(lower) && !NEUTRAL_PREFIXES.some((p) => lower.startsWith(p));
}

/**
 * The login's settings that change how the session reads statements, as an approval pins them:
 * each name's last value, by name (`{"datestyle":"ISO, DMY","timezone":"Europe/Berlin"}`), or
 * undefined when the login set none.
 */
export function readingSettingsOf(settings: readonly (readonly [name: string, value: string])[]): string | undefined {
  const last = new Map<string, string>();
  for (const [name, value] of settings) {
    if (changesReading(name, value)) last.set(name.toLowerCase(), value);
    else last.delete(name.toLowerCase());
  }
  if (last.size === 0) return undefined;
  return JSON.stringify(Object.fromEntries([...last].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}
