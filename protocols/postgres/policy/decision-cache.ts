import { createHash } from 'node:crypto';
import { checkScope } from '../../../src/policy/check-scope.js';
import type { Scope } from '../../../src/config/scope.js';
import { analyzeSql } from './analyze-sql.js';
import { type AnalysisContext, type ApplicationNameChange } from './analysis-context.js';
import { StatementRejected } from './statement-rejected.js';
import { shadowsKey } from './shadowed-builtins.js';

/**
 * A statement's verdict: allowed (a lone SET application_name goes upstream rewritten, see
 * `applicationName`), or what the client is told instead (always an ERROR with a SQLSTATE).
 */
export type Verdict =
  | {
      readonly allowed: true;
      readonly applicationName?: ApplicationNameChange;
      /** Prepared statements the text runs by name (EXECUTE): the gate refuses those that need approval. */
      readonly executes?: readonly string[];
      /** The approval request this statement takes (given back if the server never runs it). */
      readonly approvalTaken?: string;
      /** A setting the statement changes that changes how the session reads statements (reading-settings.ts). */
      readonly changesReading?: string;
    }
  | {
      readonly allowed: false;
      readonly sqlstate: string;
      readonly message: string;
      readonly position?: number;
      /** Allowed by the scope once a person approves this exact statement: what needs the approval. */
      readonly approval?: string;
      /** Of a statement needing approval: a setting it changes that changes how the session reads statements. */
      readonly changesReading?: string;
    };

/** The SQLSTATE of a statement held for approval (class IG: idgate's own). */
export const APPROVAL_REQUIRED = 'IGA01';

const MAX_ENTRIES = 10_000;
/** Longer texts are keyed by their SHA-256: the cache holds 10,000 keys, not 10,000 statements of any size. */
const MAX_KEYED_TEXT = 2048;
const ALLOWED: Verdict = { allowed: true };
const cache = new Map<string, Verdict>();
const managedKeys = new WeakMap<ReadonlySet<string>, string>();

/** The managed settings as part of a cache key, built once per set (each session holds one). */
function managedKey(managed: ReadonlySet<string>): string {
  let key = managedKeys.get(managed);
  if (key === undefined) {
    key = [...managed].sort().join(',');
    managedKeys.set(managed, key);
  }
  return key;
}

/**
 * A statement's verdict under a scope, parsed once per distinct statement shape: prepared
 * statements and repeated queries cost a map lookup after the first time, and so do simple queries
 * that differ only in numbers (`WHERE aid = 12345`), unless the verdict looked at a constant's
 * value, which is then remembered for that exact text only. The key holds everything the verdict
 * depends on: the parser's version, the schema, the name rule, the settings the gateway manages,
 * the built-in names the search path overloads, the scope and the text. Whatever
 * cannot be analysed is refused, with the parser's error for a syntax error.
 */
export function decide(scope: Scope, context: AnalysisContext, sql: string): Verdict {
  const { exact, shapeKey } = keysOf(scope, context, sql);
  const hit = cache.get(exact) ?? (shapeKey === undefined ? undefined : cache.get(shapeKey));
  if (hit !== undefined) return hit;
  let verdict: Verdict;
  let dependsOnConstants = true;
  try {
    const analysis = analyzeSql(sql, context);
    const decision = checkScope(scope, analysis.accesses);
    const reading = analysis.changesReading === undefined ? {} : { changesReading: analysis.changesReading };
    verdict = !decision.allowed
      ? { allowed: false, sqlstate: decision.kind === 'unsupported' ? '0A000' : '42501', message: decision.reason }
      : decision.approval !== undefined
        ? {
            ...approvalVerdict(
              decision.approval,
              analysis.unpinnable ?? (analysis.executes === undefined ? undefined : 'EXECUTE (a prepared statement runs)'),
            ),
            ...reading,
          }
        : analysis.applicationName !== undefined
          ? { allowed: true, applicationName: analysis.applicationName }
          : analysis.executes !== undefined || analysis.changesReading !== undefined
            ? { allowed: true, ...(analysis.executes !== undefined ? { executes: analysis.executes } : {}), ...reading }
            : ALLOWED;
    dependsOnConstants = analysis.dependsOnConstants;
  } catch (e) {
    // A rejection's message and position are those of this exact text.
    verdict = rejected(e);
  }
  remember(dependsOnConstants || shapeKey === undefined ? exact : shapeKey, verdict);
  return verdict;
}

/** The verdict already known for this text (its exact text or its shape), without analysing it. */
export function cachedVerdict(scope: Scope, context: AnalysisContext, sql: string): Verdict | undefined {
  const { exact, shapeKey } = keysOf(scope, context, sql);
  return cache.get(exact) ?? (shapeKey === undefined ? undefined : cache.get(shapeKey));
}

/** Remembers a verdict reached elsewhere (the analysis thread) for this exact text. */
export function rememberVerdict(scope: Scope, context: AnalysisContext, sql: string, verdict: Verdict): void {
  remember(keysOf(scope, context, sql).exact, verdict);
}

const prefixes = new WeakMap<AnalysisContext, Map<string, string>>();

/** The part of a key that is the same for every statement of a session: built once per session and scope. */
function prefixOf(scope: Scope, context: AnalysisContext): string {
  let byScope = prefixes.get(context);
  if (byScope === undefined) {
    byScope = new Map();
    prefixes.set(context, byScope);
  }
  let prefix = byScope.get(scope.text);
  if (prefix === undefined) {
    // JSON keeps the fields apart whatever they hold (a schema or scope text with a separator in it cannot shift into the next field).
    prefix = JSON.stringify([
      context.parser.major,
      context.schema,
      context.asciiNamesOnly,
      managedKey(context.managedSettings),
      shadowsKey(context.shadowed),
      scope.text,
    ]);
    byScope.set(scope.text, prefix);
  }
  return prefix;
}

function keysOf(scope: Scope, context: AnalysisContext, sql: string): { exact: string; shapeKey: string | undefined } {
  const prefix = prefixOf(scope, context);
  const shape = shapeOf(sql);
  // The two key spaces are tagged apart: no exact text (`\x01select … 0` included) can be read as a shape of another.
  return { exact: `${prefix}x${textKey(sql)}`, shapeKey: shape === undefined ? undefined : `${prefix}s${textKey(shape)}` };
}

/**
 * A statement the scope allows once a person approves it — unless the text holds what its approval
 * could not pin (a PREPARE, a COPY … FROM STDIN): that is refused outright, as a prepared statement
 * of the extended protocol is (statement-gate.ts).
 */
function approvalVerdict(approval: string, unpinnable: string | undefined): Verdict {
  if (unpinnable === undefined) return { allowed: false, sqlstate: APPROVAL_REQUIRED, message: `${approval} needs approval`, approval };
  return {
    allowed: false,
    sqlstate: '0A000',
    message: `${approval} needs approval, which cannot be given to ${unpinnable}: send the write itself, with its values written in`,
  };
}

/** A rejection as the client sees it; an unexpected failure of the analysis is a refusal too, never a pass. */
export function rejected(e: unknown): Verdict {
  if (e instanceof StatementRejected) {
    return { allowed: false, sqlstate: e.sqlstate, message: e.message, ...(e.position !== undefined ? { position: e.position } : {}) };
  }
  return { allowed: false, sqlstate: '42601', message: 'the gateway could not analyse this statement' };
}

/** The text itself (tagged t) or, when long, its digest (tagged h): a short text can never equal a long one's key. */
function textKey(text: string): string {
  return text.length <= MAX_KEYED_TEXT ? `t${text}` : `h${createHash('sha256').update(text).digest('base64')}`;
}

function remember(key: string, verdict: Verdict): void {
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value ?? '');
  cache.set(key, verdict);
}

/**
 * The text with every number outside quotes and comments replaced by 0, or undefined when the
 * text has what a simple scan could misread (backslashes, dollar signs, E'' strings, nested
 * comments). A number counts only where the server's lexer starts one: not after a character
 * that can continue an identifier (any non-ASCII one included), so `t1` and `é1` stay names.
 */
function shapeOf(sql: string): string | undefined {
  if (/[\\$]|[eE]'|\/\*[^]*\/\*/.test(sql)) return undefined;
  return sql.replace(
    /("(?:[^"]|"")*")|('(?:[^']|'')*')|(--[^\n\r]*)|(\/\*[^]*?\*\/)|(?<![\w$\u0080-\uffff.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w$\u0080-\uffff])/g,
    (match, quoted, string, line, block) =>
      quoted !== undefined || string !== undefined || line !== undefined || block !== undefined ? match : '0',
  );
}
