import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { MessageQueue } from '../../../protocols/postgres/message-queue.js';
import { streamSource } from '../../../protocols/postgres/read-source.js';
import { ProtocolError } from '../../../protocols/postgres/wire/protocol-error.js';
import { Bytes, bytewise, splitsOf } from '../../support/byte-builder.js';

const startup = new Bytes().int32(196608).cstring('user').cstring('a').cstring('').untyped();
const password = new Bytes().cstring('token-value').frame('p');
const trailing = new Bytes().cstring('SELECT 1').frame('Q');

async function readAll(chunks: readonly Buffer[]): Promise<{ startupBody: Buffer; code: number; passwordBody: Buffer; rest: Buffer }> {
  const stream = new PassThrough();
  const queue = new MessageQueue(1000, 4000);
  queue.attach(streamSource(stream));
  const reading = (async () => {
    const startupBody = await queue.untyped();
    const { code, body } = await queue.typed();
    return { startupBody, code, passwordBody: body };
  })();
  for (const c of chunks) {
    stream.write(c);
    await new Promise((r) => setImmediate(r));
  }
  const result = await reading;
  return { ...result, rest: queue.takeRemaining() };
}

const isProtocolError = (code: string) => (e: unknown) => e instanceof ProtocolError && e.code === code;

describe('MessageQueue', () => {
  it('reads an untyped then a typed message and keeps what follows, however the bytes arrive', async () => {
    const all = Buffer.concat([startup, password, trailing]);
    const check = (r: Awaited<ReturnType<typeof readAll>>): void => {
      assert.deepEqual(r.startupBody, startup.subarray(4));
      assert.equal(r.code, 0x70);
      assert.deepEqual(r.passwordBody, password.subarray(5));
      assert.deepEqual(r.rest, trailing);
    };
    check(await readAll([all]));
    for (const split of splitsOf(all)) check(await readAll(split));
    check(await readAll(bytewise(all)));
  });

  it('refuses a declared length above the bound before reading the body', async () => {
    const queue = new MessageQueue(1000, 4000);
    const stream = new PassThrough();
    queue.attach(streamSource(stream));
    stream.write(new Bytes().int32(5000).body());
    await assert.rejects(queue.untyped(), isProtocolError('frame-too-long'));
  });

  it('refuses lengths below the minimum (typed and untyped)', async () => {
    for (const [bytes, read] of [
      [new Bytes().int32(7).body(), (q: MessageQueue) => q.untyped()],
      [Buffer.from([0x70, 0, 0, 0, 3]), (q: MessageQueue) => q.typed()],
      [Buffer.from([0x70, 0xff, 0xff, 0xff, 0xff]), (q: MessageQueue) => q.typed()],
    ] as const) {
      const queue = new MessageQueue(1000, 4000);
      const stream = new PassThrough();
      queue.attach(streamSource(stream));
      stream.write(bytes);
      await assert.rejects(read(queue), isProtocolError('frame-too-short'));
    }
  });

  it('refuses a peer that floods it before the handshake ends', async () => {
    const queue = new MessageQueue(1000, 4000);
    const stream = new PassThrough();
    queue.attach(streamSource(stream));
    // A valid first message followed by far more than the handshake could need.
    stream.write(Buffer.concat([startup, Buffer.alloc(5000)]));
    await new Promise((r) => setImmediate(r));
    await assert.rejects(queue.untyped(), isProtocolError('frame-too-long'));
  });

  it('fails a pending read when the peer closes mid-message', async () => {
    const queue = new MessageQueue(1000, 4000);
    const stream = new PassThrough();
    queue.attach(streamSource(stream));
    const reading = queue.untyped();
    stream.end(startup.subarray(0, 6));
    await assert.rejects(reading, isProtocolError('truncated'));
  });
});
