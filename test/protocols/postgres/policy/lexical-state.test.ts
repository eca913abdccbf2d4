import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { catalogClass, isCatalogRelation } from '../../../../protocols/postgres/policy/catalog-relations.js';
import { isPinnedValue, reportedLexicalProblem } from '../../../../protocols/postgres/policy/lexical-state.js';
import { checkClientLexicalSettings } from '../../../../protocols/postgres/policy/scoped-session.js';
import { AccessError } from '../../../../src/access-error.js';

describe('the pinned lexical state', () => {
  it('takes every spelling the server takes for UTF8, and nothing else', () => {
    for (const v of ['UTF8', 'utf-8', 'Utf_8', 'UNICODE', 'unicode']) assert.equal(isPinnedValue('client_encoding', v), true, v);
    for (const v of ['SJIS', 'BIG5', 'GBK', 'GB18030', 'UHC', 'JOHAB', 'LATIN1', 'SQL_ASCII', 'utf16', '']) {
      assert.equal(isPinnedValue('Client_Encoding', v), false, v);
    }
  });

  it('reads standard_conforming_strings as the server’s parse_bool does', () => {
    for (const v of ['on', 'ON', 'true', 't', 'tr', 'yes', 'y', '1']) {
      assert.equal(isPinnedValue('standard_conforming_strings', v), true, v);
    }
    for (const v of ['off', 'of', 'o', 'false', 'f', 'no', 'n', '0', '', 'onn']) {
      assert.equal(isPinnedValue('standard_conforming_strings', v), false, v);
    }
  });

  it('finds a problem only in a report of another value of a lexical setting', () => {
    assert.equal(reportedLexicalProblem('client_encoding', 'UTF8'), undefined);
    assert.equal(reportedLexicalProblem('TimeZone', 'Europe/Berlin'), undefined);
    assert.match(reportedLexicalProblem('standard_conforming_strings', 'off') ?? '', /reports standard_conforming_strings = off/);
    assert.match(reportedLexicalProblem('client_encoding', 'SJIS') ?? '', /client_encoding = SJIS/);
  });

  it('refuses a client asking for another reading at login, wherever it asks, with every repeat checked', () => {
    const refused = (settings: [string, string][]): boolean => {
      try {
        checkClientLexicalSettings(settings);
        return false;
      } catch (e) {
        return e instanceof AccessError && e.code === 'scope-unsupported';
      }
    };
    assert.equal(refused([['client_encoding', 'SJIS']]), true);
    assert.equal(
      refused([
        ['standard_conforming_strings', 'on'],
        ['standard_conforming_strings', 'off'],
      ]),
      true,
    );
    assert.equal(
      refused([
        ['client_encoding', 'UTF8'],
        ['standard_conforming_strings', 'on'],
        ['application_name', 'x'],
      ]),
      false,
    );
    assert.equal(refused([['client_encoding', 'SQL_ASCII']]), false, "psql's C locale: the session runs as UTF8");
  });
});

describe('catalog classes', () => {
  it('sorts the catalogs by what reading them reveals, and knows no name it was not told', () => {
    assert.equal(catalogClass('pg_catalog', 'pg_class'), 'metadata');
    assert.equal(catalogClass('pg_catalog', 'pg_stats'), 'every-table');
    assert.equal(catalogClass('pg_catalog', 'pg_stat_activity'), 'server');
    assert.equal(catalogClass('pg_catalog', 'pg_future_view'), undefined);
    assert.equal(catalogClass('information_schema', 'columns'), 'metadata');
    assert.equal(catalogClass('information_schema', 'user_mappings'), 'server');
    assert.equal(isCatalogRelation('pg_audit_log', 15), false, 'a pg_-named table of the search path is an ordinary table');
  });
});
