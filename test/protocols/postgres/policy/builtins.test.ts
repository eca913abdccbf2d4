import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinsOf, CATALOGUES } from '../../../../protocols/postgres/policy/builtins/builtins-of.js';
import {
  functionClass,
  informationSchemaFunctionClass,
  listedFunctionNames,
  listedInformationSchemaFunctions,
} from '../../../../protocols/postgres/policy/builtins/function-classes.js';
import { catalogClass, sortedCatalogRelations } from '../../../../protocols/postgres/policy/catalog-relations.js';
import { functionKind, isBuiltinOperator, isBuiltinType } from '../../../../protocols/postgres/policy/functions.js';
import { SUPPORTED_MAJORS } from '../../../../protocols/postgres/policy/sql-parser.js';

describe('the built-in lists (generated from pg_proc, pg_operator, pg_type and pg_class of each version)', () => {
  it('has a generated list for every major version the gateway parses, and for no other', () => {
    assert.deepEqual(
      CATALOGUES.map((c) => c.major),
      [...SUPPORTED_MAJORS],
    );
    for (const c of CATALOGUES) assert.ok(c.version.startsWith(`${c.major}.`), `${c.major}: ${c.version}`);
  });

  for (const c of CATALOGUES) {
    it(`sorts every function of PostgreSQL ${c.major} that is not immutable, and every pg_catalog relation`, () => {
      const b = builtinsOf(c.major);
      assert.ok(b.functions.size > 2500, `${b.functions.size} functions`);
      const unsorted = [...b.functions.keys()].filter((name) => functionClass(name, b) === undefined);
      assert.deepEqual(unsorted, [], `PostgreSQL ${c.major} functions not sorted in builtins/function-classes.ts`);
      const unsortedHelpers = [...b.informationSchemaFunctions.keys()].filter(
        (name) => informationSchemaFunctionClass(name, b) === undefined,
      );
      assert.deepEqual(
        unsortedHelpers,
        [],
        `PostgreSQL ${c.major} information_schema functions not sorted in builtins/function-classes.ts`,
      );
      const unknownRelations = [...b.catalogRelations].filter((name) => catalogClass('pg_catalog', name) === undefined);
      assert.deepEqual(unknownRelations, [], `PostgreSQL ${c.major} relations not sorted in catalog-relations.ts`);
    });
  }

  it('lists no function or relation that no supported version has (a stale entry would hide a typo)', () => {
    const functions = new Set(CATALOGUES.flatMap((c) => [...builtinsOf(c.major).functions.keys()]));
    assert.deepEqual(
      [...listedFunctionNames()].filter((n) => !functions.has(n)),
      [],
    );
    const helpers = new Set(CATALOGUES.flatMap((c) => [...builtinsOf(c.major).informationSchemaFunctions.keys()]));
    assert.deepEqual(
      [...listedInformationSchemaFunctions()].filter((n) => !helpers.has(n)),
      [],
    );
    const relations = new Set(CATALOGUES.flatMap((c) => [...builtinsOf(c.major).catalogRelations]));
    assert.deepEqual(
      [...sortedCatalogRelations()].filter((n) => !relations.has(n)),
      [],
    );
  });

  it('compares names exactly: "NOW" is not a built-in, RI_FKey_check_ins is one only in its own case', () => {
    assert.deepEqual(functionKind('now', undefined, 15), { builtin: true, class: 'safe' });
    assert.deepEqual(functionKind('NOW', undefined, 15), { builtin: false });
    assert.deepEqual(functionKind('now', 'PG_CATALOG', 15), { builtin: false });
    assert.deepEqual(functionKind('RI_FKey_check_ins', 'pg_catalog', 15), { builtin: true, class: 'security-relevant' });
    assert.deepEqual(functionKind('ri_fkey_check_ins', undefined, 15), { builtin: false });
    assert.equal(isBuiltinType('int4', undefined, 15), true);
    assert.equal(isBuiltinType('INT4', undefined, 15), false);
    assert.equal(isBuiltinOperator('<@', 'pg_catalog', 15), true);
    assert.equal(isBuiltinOperator('<@', 'public', 15), false);
    // information_schema's helpers count only when named with their schema, which is never on the search path.
    assert.deepEqual(functionKind('_pg_expandarray', 'information_schema', 15), { builtin: true, class: 'safe' });
    assert.deepEqual(functionKind('_pg_expandarray', undefined, 15), { builtin: false });
    assert.deepEqual(functionKind('_pg_expandarray', 'INFORMATION_SCHEMA', 15), { builtin: false });
    assert.deepEqual(functionKind('now', 'information_schema', 15), { builtin: false });
  });

  it('knows each version’s own functions: uuidv7() is a built-in of 18, not of 15', () => {
    assert.deepEqual(functionKind('uuidv7', undefined, 18), { builtin: true, class: 'safe' });
    assert.deepEqual(functionKind('uuidv7', undefined, 15), { builtin: false });
    assert.deepEqual(functionKind('now', undefined, 14), { builtin: false }, 'a version without a list has no built-ins');
  });
});
