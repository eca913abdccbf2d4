import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import stringWidth from 'string-width';
import { oneLine, terminalSafe } from '../../../src/cli/output.js';
import { table } from '../../../src/cli/format.js';

/** What a terminal acts on: C0 (newline aside), DEL, C1, bidirectional controls, line/paragraph separators. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ACTED_ON = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function everyControl(): string[] {
  const chars: string[] = [];
  for (let c = 0; c <= 0x9f; c++) if (c < 0x20 || c >= 0x7f) chars.push(String.fromCodePoint(c));
  for (const c of [0x61c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
    chars.push(String.fromCodePoint(c));
  }
  return chars;
}

describe('CLI output a terminal cannot be made to act on', () => {
  it('shows every control and bidirectional character as a visible escape, keeping only its own line breaks', () => {
    for (const char of everyControl()) {
      const hostile = `a${char}b`;
      const safe = terminalSafe(hostile);
      if (char === '\n') assert.equal(safe, hostile);
      else assert.equal(safe, `a\\u${char.codePointAt(0)?.toString(16).padStart(4, '0')}b`);
      const field = oneLine(hostile);
      assert.ok(!ACTED_ON.test(field) && !field.includes('\n'), JSON.stringify(field));
    }
  });

  it('keeps JSON exact: an escaped line decodes to the same value', () => {
    const value = { sql: `SELECT '${everyControl().join('')}'`, label: 'caf\u00e9 \u{1f600}' };
    assert.deepEqual(JSON.parse(terminalSafe(JSON.stringify(value))), value);
    assert.ok(!ACTED_ON.test(terminalSafe(JSON.stringify(value))));
  });

  it('keeps every table cell on its row, and lines up columns as a terminal shows them', () => {
    const rows = [
      ['1', 'evil\n2  forged-row', 'x\u001b[2Ay'],
      ['3', '表格', '\u{1f600}'],
    ];
    const lines = table(['id', 'name', 'note'], rows, undefined).split('\n');
    assert.equal(lines.length, 4, lines.join('\n'));
    assert.ok(lines.every((l) => !ACTED_ON.test(l)));
    // '表格' and the emoji each take two columns per character: the next column starts where the header's does.
    const noteAt = lines[0]?.indexOf('note') ?? -1;
    assert.ok(noteAt > 0);
    const row = lines[3] ?? '';
    assert.equal(stringWidth(row.slice(0, row.indexOf('\u{1f600}'))), noteAt);
  });

  it('cuts the widest columns with … to fit a terminal, and never cuts piped output', () => {
    const rows = [['a', 'x'.repeat(200), 'short']];
    const cut = table(['id', 'sql', 'end'], rows, 60).split('\n');
    assert.ok(
      cut.every((l) => l.length <= 60),
      cut.join('\n'),
    );
    assert.match(cut[2] ?? '', /x…\s+short$/);
    assert.ok(table(['id', 'sql', 'end'], rows, undefined).includes('x'.repeat(200)));
  });
});
