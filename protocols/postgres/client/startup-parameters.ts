import { AccessError } from '../../../src/access-error.js';

/**
 * Settings a client may carry to the upstream in its StartupMessage or in `options=-c …`. Anything
 * that could change who the session runs as or what it may do (role, session_authorization,
 * default_transaction_read_only, search_path — which decides what an unqualified table is) is not
 * on the list: the gateway, not the client, decides that.
 */
const FORWARDABLE = new Set(
  [
    'application_name',
    'client_encoding',
    'datestyle',
    'timezone',
    'intervalstyle',
    'extra_float_digits',
    'statement_timeout',
    'lock_timeout',
    'idle_in_transaction_session_timeout',
    'idle_session_timeout',
    'bytea_output',
    'client_min_messages',
    'standard_conforming_strings',
    'default_transaction_isolation',
    'default_transaction_deferrable',
    'timezone_abbreviations',
    'lc_monetary',
    'lc_numeric',
    'lc_time',
    'geqo',
    'jit',
    'work_mem',
    'enable_seqscan',
    'enable_indexscan',
    'enable_bitmapscan',
    'enable_hashjoin',
    'enable_mergejoin',
    'enable_nestloop',
    'random_page_cost',
    'cursor_tuple_fraction',
    'xmloption',
    'gin_fuzzy_search_limit',
  ].map((s) => s.toLowerCase()),
);

/**
 * A custom placeholder setting (`app.tenant`): a parsed scope lets the agent `SET` it, so it may
 * come in the startup packet too — except the gateway's own `idgate.*`, which carry the identity.
 */
function isCustomSetting(name: string): boolean {
  return /^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)+$/.test(name) && !name.startsWith('idgate.');
}

/** Accepted only for `scope: all`: under a parsed scope the gateway pins it (decided once the scope is known). */
const SCOPE_ALL_ONLY = 'search_path';

/** Parameters that name the client's own view of the login; the gateway consumes them. */
const CONSUMED = new Set(['user', 'database']);

export interface StartupRequest {
  /** The connection the client asks for (`dbname`; defaults to `user`, as in Postgres). */
  readonly connectionName: string;
  /** The client's own label, recorded, never trusted. */
  readonly clientUser: string;
  /** What goes upstream besides the gateway's own user and database. */
  readonly forwarded: ReadonlyMap<string, string>;
  /**
   * Every setting the client asked for, by lower-case name, from the packet and from `options`
   * alike, repeats included — in the order the server applies them (`options` first, wherever it
   * stands in the packet), so a name's last value is the one the session has.
   */
  readonly settings: readonly (readonly [name: string, value: string])[];
  /** `_pq_.` protocol options we do not implement, to name in NegotiateProtocolVersion. */
  readonly unsupportedOptions: readonly string[];
  /** The client asked for a search_path, which only `scope: all` sessions may choose. */
  readonly asksSearchPath: boolean;
}

/** Refuses a request the admitted scope does not allow at login (search_path under a parsed scope). */
export function checkStartupForScope(request: StartupRequest, scopeIsAll: boolean): void {
  if (request.asksSearchPath && !scopeIsAll) {
    throw new AccessError(
      'startup-parameter-refused',
      'startup parameter search_path is allowed only for scope all: a parsed scope pins the search path',
    );
  }
}

export function interpretStartupParameters(parameters: ReadonlyMap<string, string>): StartupRequest {
  const clientUser = parameters.get('user');
  if (clientUser === undefined || clientUser === '') {
    throw new AccessError('not-mapped', 'no user name specified in the startup packet');
  }
  if (parameters.has('replication')) {
    const value = parameters.get('replication')?.toLowerCase();
    if (value !== 'false' && value !== 'off' && value !== '0' && value !== 'no') {
      throw new AccessError('not-mapped', 'replication connections are not available through the gateway');
    }
  }
  const forwarded = new Map<string, string>();
  const named: [string, string][] = [];
  const fromOptions: [string, string][] = [];
  const unsupportedOptions: string[] = [];
  for (const [name, value] of parameters) {
    if (name.startsWith('_pq_.')) unsupportedOptions.push(name);
    else if (name === 'options') checkOptions(value, forwarded, fromOptions);
    else if (isForwardable(name.toLowerCase())) {
      forwarded.set(name, value);
      named.push([name.toLowerCase(), value]);
    } else if (!CONSUMED.has(name) && name !== 'replication') throw notAllowed(name);
  }
  // In the order the server applies them: `options` first, then the packet's own, which win.
  const settings = [...fromOptions, ...named];
  const asksSearchPath = settings.some(([name]) => name === SCOPE_ALL_ONLY);
  return { connectionName: parameters.get('database') || clientUser, clientUser, forwarded, settings, unsupportedOptions, asksSearchPath };
}

function isForwardable(name: string): boolean {
  return FORWARDABLE.has(name) || isCustomSetting(name) || name === SCOPE_ALL_ONLY;
}

/** `options` is a command line of `-c name=value` / `--name=value`; each setting must be forwardable. */
function checkOptions(options: string, forwarded: Map<string, string>, settings: [string, string][]): void {
  const words = splitOptions(options);
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    let setting: string | undefined;
    if (word === '-c') setting = words[++i];
    else if (word.startsWith('-c')) setting = word.slice(2);
    else if (word.startsWith('--')) setting = word.slice(2);
    const eq = setting?.indexOf('=') ?? -1;
    if (setting === undefined || eq <= 0) throw notAllowed(`options (${word})`);
    const name = setting.slice(0, eq).replace(/-/g, '_').toLowerCase();
    if (!isForwardable(name)) throw notAllowed(name);
    settings.push([name, setting.slice(eq + 1)]);
  }
  if (words.length > 0) forwarded.set('options', options);
}

/** Splits on unescaped whitespace, honouring backslash escapes as Postgres does. */
function splitOptions(options: string): string[] {
  const words: string[] = [];
  let current = '';
  for (let i = 0; i < options.length; i++) {
    const ch = options[i] ?? '';
    if (ch === '\\' && i + 1 < options.length) current += options[++i] ?? '';
    else if (/\s/.test(ch)) {
      if (current !== '') words.push(current);
      current = '';
    } else current += ch;
  }
  if (current !== '') words.push(current);
  return words;
}

function notAllowed(name: string): AccessError {
  return new AccessError('startup-parameter-refused', `startup parameter ${name} is not allowed through the gateway`);
}
