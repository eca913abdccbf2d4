/** pgpass (node-postgres's own reader of ~/.pgpass / PGPASSFILE) ships no types. */
declare module 'pgpass' {
  interface PgpassConnInfo {
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
  }
  /** Calls back with the password the file holds for this connection, or undefined. */
  function pgpass(connInfo: PgpassConnInfo, callback: (password: string | undefined) => void): void;
  export default pgpass;
}
