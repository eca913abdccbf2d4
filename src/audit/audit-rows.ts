/** Rows of the audit database's sessions and login_attempts tables, as SQLite returns them. */

export interface SessionRow {
  readonly id: string;
  readonly protocol: string;
  readonly started_at_us: number;
  readonly ended_at_us: number | null;
  readonly end_reason: string | null;
  readonly identity_oid: string;
  readonly app_id: string;
  readonly tenant_id: string;
  readonly display_name: string | null;
  readonly client_user: string;
  readonly mapping: string;
  readonly connection: string;
  readonly scope: string;
  readonly record_mode: string;
  readonly client_address: string;
  readonly client_tls: number;
  readonly upstream: string;
  /** The fleet node that wrote the session (null in databases written before nodes were recorded). */
  readonly node_id: string | null;
  readonly bytes_from_client: number | null;
  readonly bytes_to_client: number | null;
  /** Result rows the client received and rows written (absent before schema 28, null when not known). */
  readonly rows_returned?: number | null;
  readonly rows_affected?: number | null;
  readonly statements: number;
  readonly errors: number;
  readonly event_count: number;
  readonly head_hash: string;
  readonly last_event_hash: string;
  readonly seal_seq: number | null;
  readonly seal_hash: string | null;
  /** The node key's signature of `seal_hash` (absent before schema 16, null from a node without a key). */
  readonly seal_signature?: string | null;
}

export interface LoginRow {
  readonly seq: number;
  readonly at_us: number;
  readonly accepted: number;
  readonly reason: string;
  readonly message: string;
  readonly session_id: string | null;
  readonly identity_oid: string | null;
  readonly app_id: string | null;
  readonly connection: string | null;
  readonly client_user: string | null;
  readonly client_address: string;
  readonly node_id: string | null;
  readonly hash: string;
  /** The node key's signature of `hash` (absent before schema 16, null from a node without a key). */
  readonly signature?: string | null;
}
