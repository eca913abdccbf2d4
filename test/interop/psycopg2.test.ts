import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Harness } from '../support/harness.js';
import { repoPath } from '../support/repo-root.js';

const run = promisify(execFile);
const script = repoPath('test/interop/psycopg2_client.py');

describe('psycopg2 through the gateway', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
  });
  after(async () => {
    await h.stop();
  });

  it('logs in, queries, prepares, copies, cancels, and is refused with clear messages', async () => {
    // Debian's psycopg2 is importable by the system python, not by a pyenv python earlier on PATH.
    const { stdout } = await run('/usr/bin/python3', [
      script,
      h.conninfo(),
      await h.token(),
      await h.token({}, { expiresIn: -60 }),
      await h.token({ groups: [] }),
    ]);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.deepEqual(out['login'], ['sync_writer', 42]);
    assert.equal(out['prepared'], 'record 5');
    assert.equal(out['copy'], '300\t44850');
    assert.equal(out['cancel'], '57014');
    assert.ok((out['cancel_seconds'] as number) < 5);
    assert.equal(out['after_cancel'], 1);
    assert.match(String(out['expired']), /expired/);
    assert.match(String(out['unmapped']), /not granted/);
    assert.match(String(out['garbage']), /not a JWT/);
    await h.assertNoLeaks();
  });
});
