/**
 * The columns of the central tables that mirror a node's own, as the shipper writes them (with
 * the log they belong to) and a central copy reads them back (without it: a copy is one log).
 */
export const LOGIN_COLUMNS = [
  'log_id',
  'seq',
  'at_us',
  'accepted',
  'reason',
  'message',
  'session_id',
  'identity_oid',
  'app_id',
  'connection',
  'client_user',
  'client_address',
  'node_id',
  'hash',
  'signature',
];

export const ORIGIN_COLUMNS = [
  'log_id',
  'id',
  'at_us',
  'node_id',
  'kind',
  'previous_seal_seq',
  'previous_seal_hash',
  'previous_login_seq',
  'previous_login_hash',
  'previous_log_id',
  'noticed_by',
  'signature',
];

export const KEY_COLUMNS = [
  'log_id',
  'id',
  'at_us',
  'node_id',
  'public_key',
  'from_seal_seq',
  'from_seal_hash',
  'from_login_seq',
  'from_login_hash',
  'signature',
];

/** A column list without `log_id`: the local database's form of the same table. */
export function localColumns(columns: readonly string[]): string[] {
  return columns.filter((c) => c !== 'log_id');
}
