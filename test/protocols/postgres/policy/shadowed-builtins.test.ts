import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzeSql } from '../../../../protocols/postgres/policy/analyze-sql.js';
import type { AnalysisContext } from '../../../../protocols/postgres/policy/analysis-context.js';
import { decide } from '../../../../protocols/postgres/policy/decision-cache.js';
import {
  shadowsFromLists,
  shadowsFromRows,
  shadowsKey,
  shadowsNote,
  NO_SHADOWS,
} from '../../../../protocols/postgres/policy/shadowed-builtins.js';
import { checkScope } from '../../../../src/policy/check-scope.js';
import { parseScope } from '../../../../src/config/scope.js';
import { analysisContext, TEST_SERVER_MAJOR } from '../../../support/sql-analysis.js';

const READ = parseScope('read:records');

describe('built-in names the search path overloads', () => {
  let plain: AnalysisContext;
  let shadowed: AnalysisContext;
  before(async () => {
    plain = await analysisContext();
    shadowed = {
      ...plain,
      shadowed: shadowsFromRows(
        [
          ['function', 'lower', 'public.lower(integer)'],
          ['operator', '||', 'public.||(text, integer)'],
          ['operator', '=', 'public.=(text, integer)'],
          ['operator', '<=', 'public.<=(text, integer)'],
          // Names no built-in has are user-defined anyway: not kept.
          ['function', 'leak', 'public.leak()'],
        ],
        TEST_SERVER_MAJOR,
      ),
    };
  });

  const allowedUnder = (context: AnalysisContext, sql: string): boolean => checkScope(READ, analyzeSql(sql, context).accesses).allowed;

  // Each is allowed where nothing shadows the name, and refused where a schema on the path overloads it.
  const cases: readonly string[] = [
    'SELECT lower(title) FROM records',
    'SELECT title || 1 FROM records',
    'SELECT * FROM records WHERE id = 1',
    'SELECT * FROM records WHERE id <= 1',
    'SELECT * FROM records WHERE id BETWEEN 1 AND 2',
    'SELECT * FROM records WHERE id NOT BETWEEN SYMMETRIC 1 AND 2',
    'SELECT * FROM records WHERE id IN (1, 2)',
    'SELECT * FROM records WHERE id IN (SELECT id FROM records)',
    'SELECT * FROM records WHERE id = ANY (ARRAY[1, 2])',
    'SELECT CASE id WHEN 1 THEN 2 END FROM records',
    'SELECT * FROM records a JOIN records b USING (id)',
    'SELECT * FROM records a NATURAL JOIN records b',
    'SELECT * FROM records WHERE id IS DISTINCT FROM 1',
    'SELECT NULLIF(id, 1) FROM records',
  ];
  for (const sql of cases) {
    it(`allows ${sql} without the overload, refuses it with one`, () => {
      assert.equal(allowedUnder(plain, sql), true);
      assert.equal(allowedUnder(shadowed, sql), false);
    });
  }

  it('names the overloaded built-in in the refusal', () => {
    const decision = checkScope(READ, analyzeSql('SELECT lower(title) FROM records', shadowed).accesses);
    assert.equal(decision.allowed, false);
    assert.match(
      decision.allowed ? '' : decision.reason,
      /the function lower\(\) \(a schema on the search path overloads this built-in name/,
    );
  });

  it('still allows what names pg_catalog’s own, and names not overloaded', () => {
    for (const sql of [
      'SELECT pg_catalog.lower(title) FROM records',
      'SELECT * FROM records WHERE id OPERATOR(pg_catalog.=) 1',
      'SELECT upper(title) FROM records WHERE id > 1',
      'SELECT CASE WHEN id > 1 THEN 2 END FROM records',
      'SELECT * FROM records a JOIN records b ON a.id OPERATOR(pg_catalog.=) b.id',
    ]) {
      assert.equal(allowedUnder(shadowed, sql), true, sql);
    }
  });

  it('keeps verdicts apart for sessions whose search paths overload different names', () => {
    const sql = 'SELECT lower(title) FROM records WHERE id > 3';
    assert.equal(decide(READ, plain, sql).allowed, true);
    assert.equal(decide(READ, shadowed, sql).allowed, false);
    assert.equal(decide(READ, plain, sql).allowed, true);
    const same = { ...plain, shadowed: shadowsFromLists({ functions: ['lower', 'lower'], operators: [] }) };
    assert.equal(decide(READ, same, sql).allowed, false);
  });

  it('keeps only built-in names, keys sets by their names whatever their order, and crosses to the analysis thread as lists', () => {
    const a = shadowsFromRows(
      [
        ['operator', '='],
        ['function', 'upper'],
        ['function', 'lower'],
        ['function', 'leak'],
      ],
      TEST_SERVER_MAJOR,
    );
    const b = shadowsFromLists({ functions: ['lower', 'upper'], operators: ['='] });
    assert.deepEqual(a, b);
    assert.equal(shadowsKey(a), shadowsKey(b));
    assert.notEqual(shadowsKey(a), shadowsKey(NO_SHADOWS));
    assert.equal(shadowsFromRows([], TEST_SERVER_MAJOR), NO_SHADOWS);
    assert.equal(
      shadowsFromRows(
        [
          ['something else', 'lower'],
          ['function', null],
          ['operator', '==='],
        ],
        TEST_SERVER_MAJOR,
      ),
      NO_SHADOWS,
    );
  });

  it('says which overloads shadow a built-in, for check --connect', () => {
    const rows = [
      ['operator', '=', 'public.=(integer, text)'],
      ['function', 'lower', 'public.lower(integer)'],
      ['function', 'leak', 'public.leak()'],
    ];
    assert.equal(
      shadowsNote(rows, TEST_SERVER_MAJOR),
      'scoped sessions refuse the built-in names these overload on the search path (the server could call them instead): function public.lower(integer), operator public.=(integer, text)',
    );
    assert.equal(shadowsNote([['function', 'leak', 'public.leak()']], TEST_SERVER_MAJOR), undefined);
  });
});
