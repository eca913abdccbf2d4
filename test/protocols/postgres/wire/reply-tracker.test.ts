import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { ReplyTracker } from '../../../../protocols/postgres/wire/reply-tracker.js';

const c = (s: string): number => s.charCodeAt(0);

/** Sends the client messages (a tagged one as `P*`), then feeds the replies; returns the tag each ErrorResponse got. */
function run(sent: readonly string[], replies: readonly string[]): (string | undefined)[] {
  const t = new ReplyTracker<string>();
  for (const m of sent) t.sent(c(m), m.length > 1 ? m : undefined);
  const attributed: (string | undefined)[] = [];
  for (const r of replies) {
    const [code = '', sqlstate] = r.split(':');
    const tag = t.received(c(code), sqlstate);
    if (code === 'E') attributed.push(tag);
  }
  assert.equal(t.idle, true, 'everything sent was answered or skipped');
  return attributed;
}

describe('ReplyTracker', () => {
  it('gives a simple Query’s error to that Query, and the next one’s to the next', () => {
    assert.deepEqual(run(['Q', 'Q*', 'Q'], ['T', 'D', 'C', 'Z', 'E:42601', 'Z', 'E:22012', 'Z']), ['Q*', undefined]);
  });

  it('follows an extended batch: completions pop their messages, the error belongs to the first unfinished one', () => {
    assert.deepEqual(run(['P', 'B', 'D', 'E', 'S', 'P*', 'B', 'E', 'S'], ['1', '2', 'T', 'D', 'C', 'Z', 'E:42601', 'Z']), ['P*']);
  });

  it('skips to Sync after an extended error: a denied Parse behind it is never answered, a Query there neither', () => {
    assert.deepEqual(run(['P', 'B', 'E', 'P*', 'Q*', 'B', 'S', 'Q'], ['1', '2', 'E:22012', 'Z', 'T', 'D', 'C', 'Z']), [undefined]);
  });

  it('ends a Describe of a statement with RowDescription or NoData, after ParameterDescription', () => {
    assert.deepEqual(run(['P', 'D', 'D', 'S', 'P*', 'S'], ['1', 't', 'T', 'n', 'Z', 'E:42601', 'Z']), ['P*']);
  });

  it('takes a suspended portal and an empty query as the end of an Execute', () => {
    assert.deepEqual(run(['B', 'E', 'E', 'S', 'Q*'], ['2', 'D', 's', 'I', 'Z', 'E:42601', 'Z']), ['Q*']);
  });

  it('lets notices, notifications and parameter reports pass anywhere', () => {
    assert.deepEqual(run(['Q', 'Q*'], ['N', 'S', 'T', 'A', 'C', 'Z', 'N', 'E:42601', 'S', 'Z']), ['Q*']);
  });

  it('knows the server swallows the Sync sent with an extended COPY FROM STDIN and the CopyDone that ends it', () => {
    assert.deepEqual(run(['P', 'B', 'D', 'E', 'S', 'c', 'S', 'Q*'], ['1', '2', 'n', 'G', 'C', 'Z', 'E:42601', 'Z']), ['Q*']);
  });

  it('knows a message sent during COPY FROM STDIN ends the copy as a protocol violation (08P01) and is consumed', () => {
    assert.deepEqual(run(['Q', 'Q*', 'Q'], ['G', 'E:08P01', 'Z', 'C', 'Z']), [undefined]);
  });

  it('knows a CopyFail ends the copy with the COPY’s own error', () => {
    assert.deepEqual(run(['Q', 'f', 'Q*'], ['G', 'E:57014', 'Z', 'E:42601', 'Z']), [undefined, 'Q*']);
  });

  it('ignores copy messages outside COPY, as the server does', () => {
    assert.deepEqual(run(['c', 'f', 'Q*'], ['E:42601', 'Z']), ['Q*']);
  });

  it('an error in Sync’s own commit does not start a skip', () => {
    assert.deepEqual(run(['P', 'B', 'E', 'S', 'Q*'], ['1', '2', 'C', 'E:23505', 'Z', 'E:42601', 'Z']), [undefined, 'Q*']);
  });

  it('refuses to guess when a reply fits nothing pending', () => {
    const t = new ReplyTracker<string>();
    t.sent(c('P'));
    const outOfSync = (e: unknown): boolean => e instanceof ProtocolError && e.code === 'reply-out-of-sync';
    assert.throws(() => t.received(c('2')), outOfSync);
    assert.throws(() => new ReplyTracker<string>().received(c('C')), outOfSync);
  });

  it('keeps up over a long session without growing', () => {
    const t = new ReplyTracker<string>();
    for (let i = 0; i < 10_000; i++) {
      t.sent(c('Q'));
      t.received(c('C'));
      t.received(c('Z'));
    }
    assert.equal(t.idle, true);
  });
});
