import type { Access } from '../../../src/policy/access.js';
import type { ShadowedBuiltins } from './shadowed-builtins.js';
import type { SqlParser } from './sql-parser.js';

export interface AnalysisContext {
  readonly parser: SqlParser;
  /** The schema unqualified tables are in (the session's pinned search_path). */
  readonly schema: string;
  /**
   * The server's encoding is not UTF8: it truncates and compares names in bytes of another
   * encoding, so only ASCII names of tables, schemas and functions are read the same on both sides.
   */
  readonly asciiNamesOnly: boolean;
  /** Settings the gateway set at login (identity, timeouts): the agent may reset them but not change them. */
  readonly managedSettings: ReadonlySet<string>;
  /** Built-in names another schema of the session's search path overloads: they count as user-defined. */
  readonly shadowed: ShadowedBuiltins;
}

export interface Analysis {
  readonly accesses: Access[];
  /** Did the verdict depend on a constant's value (SET … = off, set_config('role', …))? Then it holds for this text only. */
  readonly dependsOnConstants: boolean;
  /** The statement is one `SET [LOCAL] application_name` to a constant: it goes upstream with the agent's name kept first. */
  readonly applicationName?: ApplicationNameChange;
  /**
   * What in the text runs later, or on data the text does not hold (`PREPARE`: EXECUTE may run it
   * again and again; `COPY … FROM STDIN`: the rows follow) — an approval of the text could not pin it.
   */
  readonly unpinnable?: string;
  /** The prepared statements the text runs by name: the gate holds back those that need approval. */
  readonly executes?: readonly string[];
  /** A setting the text changes that changes how the session reads statements: no approval is pinned in it afterwards. */
  readonly changesReading?: string;
}

/** What a lone `SET application_name` asks for; the gateway sends its own SET with the agent's name in front. */
export interface ApplicationNameChange {
  readonly value: string;
  readonly local: boolean;
}
