import { StatementRejected } from './statement-rejected.js';

/** The slice of libpg-query the gateway uses; every major version's package has the same shape. */
interface ParserModule {
  loadModule(): Promise<void>;
  parseSync(sql: string): unknown;
}

/**
 * One parser per PostgreSQL major version, because the grammar is not the same: PostgreSQL 16
 * reads `0x1F` as 31 where 15 reads `0 AS x1F`, and every release adds syntax. A statement is
 * parsed by the grammar of the server that will run it.
 */
const PARSERS: Readonly<Record<number, () => Promise<ParserModule>>> = {
  15: () => import('libpg-query-15'),
  16: () => import('libpg-query-16'),
  17: () => import('libpg-query-17'),
  18: () => import('libpg-query'),
};

export const SUPPORTED_MAJORS: readonly number[] = Object.keys(PARSERS).map(Number);

export type ParseTree = { readonly stmts?: readonly { readonly stmt?: Record<string, unknown> }[] };

export interface SqlParser {
  readonly major: number;
  /** The statement's raw parse tree; throws StatementRejected when it does not parse. */
  parse(sql: string): ParseTree;
}

const loaded = new Map<number, Promise<SqlParser>>();

/** The parser of a major version, loaded (WebAssembly) on first use; undefined when the gateway has none for it. */
export function sqlParserFor(major: number): Promise<SqlParser> | undefined {
  const load = PARSERS[major];
  if (load === undefined) return undefined;
  let parser = loaded.get(major);
  if (parser === undefined) {
    parser = load().then(async (module) => {
      await module.loadModule();
      return { major, parse: (sql: string) => parseWith(module, sql) };
    });
    loaded.set(major, parser);
  }
  return parser;
}

/** The major version in a server_version report (`15.18 (Debian 15.18-0+deb12u1)` → 15). */
export function majorVersionOf(serverVersion: string): number | undefined {
  const match = /^(\d+)/.exec(serverVersion.trim());
  return match === null ? undefined : Number(match[1]);
}

function parseWith(module: ParserModule, sql: string): ParseTree {
  try {
    return module.parseSync(sql) as ParseTree;
  } catch (e) {
    throw rejectionFor(e);
  }
}

/**
 * What the client is told when the parser gives up. A syntax error keeps the parser's message and
 * position (the server's own 42601 for the same text); running out of stack or of the grammar's
 * depth is 54001; anything else is still a refusal, never a pass.
 */
function rejectionFor(e: unknown): StatementRejected {
  if (e instanceof RangeError) return new StatementRejected('sql-too-complex', '54001', 'statement too complex for the gateway to analyse');
  const details = sqlDetails(e);
  const message = details?.message ?? '';
  if (/stack depth limit exceeded|memory exhausted|out of memory/i.test(message)) {
    return new StatementRejected('sql-too-complex', '54001', 'statement too complex for the gateway to analyse');
  }
  if (details !== undefined && message !== '') {
    return new StatementRejected('sql-syntax', '42601', message, details.cursorPosition + 1);
  }
  return new StatementRejected('sql-unanalysable', '42601', 'the gateway could not analyse this statement');
}

function sqlDetails(e: unknown): { message: string; cursorPosition: number } | undefined {
  if (typeof e !== 'object' || e === null || !('sqlDetails' in e)) return undefined;
  const d = (e as { sqlDetails?: unknown }).sqlDetails;
  if (typeof d !== 'object' || d === null) return undefined;
  const message = (d as { message?: unknown }).message;
  const position = (d as { cursorPosition?: unknown }).cursorPosition;
  return typeof message === 'string' && typeof position === 'number' ? { message, cursorPosition: position } : undefined;
}
