/**
 * Each command's name, positionals and one-line description: what `idgate --help` and the error for an
 * unknown command list. Kept apart from the commands' modules so that listing them loads none of them
 * (loading every command, the gateway's included, cost `idgate --help` 0.6 s of CPU); each command
 * module spreads its own entry, so the list cannot drift from the commands.
 */
export const COMMAND_SUMMARIES = {
  serve: {
    command: 'serve',
    describe: 'run the gateway (JSON logs on stdout); SIGHUP reloads connections and identity-map; SIGTERM/SIGINT drain and stop it',
  },
  check: {
    command: 'check',
    describe:
      'validate the configuration; with --connect, ask Graph what the gateway will ask it (and resolve group names), log in to each upstream and warn where its role may do more than its scopes',
  },
  'audit-migrate': {
    command: 'audit-migrate',
    describe:
      "create or update the central audit store's schema (run as the role that owns it); grant the gateways' role INSERT and SELECT only",
  },
  reach: {
    command: 'reach <identity>',
    describe:
      'what one agent identity can reach now and why: each connection, the identity-map entry that admits it, the scope (asks Graph)',
  },
  identities: {
    command: 'identities',
    describe: 'every identity the identity-map lets in (from Graph), its last login and sessions, flagged unused or disabled',
  },
  usage: {
    command: 'usage',
    describe:
      'per identity and identity-map entry: the scope granted against the narrowest scope that admits what it actually ran (over-scoped), and what left the database (rows and bytes sent, rows written)',
  },
  status: { command: 'status', describe: 'the live sessions of a running gateway, from its admin endpoint' },
  terminate: { command: 'terminate <session>', describe: 'end one live session (the client gets 57P01; the audit log records who asked)' },
  approvals: {
    command: 'approvals [id]',
    describe: 'list the statements held for approval (and the approvals given); with an id, show one with its whole statement',
  },
  approve: {
    command: 'approve <id>',
    describe:
      'approve one statement held for approval: the same agent may run exactly that statement once, within approvals.approval-expiry',
  },
  refuse: { command: 'refuse <id>', describe: 'refuse one statement held for approval (the agent is told, with the reason)' },
  dev: {
    command: 'dev',
    describe: 'start a local Postgres, an Entra simulator and the gateway (TLS), and print a psql command for a demo agent',
  },
  sessions: { command: 'sessions', describe: 'list recorded sessions' },
  show: { command: 'show <session>', describe: 'print a whole session: its header, then every statement with parameters and outcome' },
  replay: {
    command: 'replay <session>',
    describe: 'play a session in the terminal at its original pace, or re-run it against a database with --execute --target',
  },
  verify: {
    command: 'verify',
    describe:
      'check the audit chains; names every edited, inserted, deleted or reordered row (exit 1); on the central store, every node log',
  },
  keygen: {
    command: 'keygen',
    describe: "create a node's signing key (Ed25519): the private key to a new file, the public key for trust lists to stdout",
  },
  anchor: {
    command: 'anchor',
    describe: "write every log's chain heads where the gateways cannot rewrite them, for verify --anchors (run it on a schedule)",
  },
  prune: { command: 'prune', describe: 'delete sessions and login attempts older than a duration, leaving a checkpoint verify accepts' },
  export: {
    command: 'export',
    describe: 'write login attempts, sessions and their events as JSON lines (for a SIEM), with their chain hashes',
  },
  token: {
    command: 'token',
    describe:
      'print an Entra access token for an agent (client secret, certificate or managed identity), to pass to the gateway as the password',
  },
} as const satisfies Readonly<Record<string, { readonly command: string; readonly describe: string }>>;
