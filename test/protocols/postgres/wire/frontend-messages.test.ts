import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serialize } from 'pg-protocol';
import { decodePasswordMessage } from '../../../../protocols/postgres/wire/frontend-messages.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { decodeStartupPacket } from '../../../../protocols/postgres/wire/startup-packet.js';
import { Bytes } from '../../../support/byte-builder.js';

describe('frontend decoders against node-postgres’s serializer', () => {
  it('decode the StartupMessage pg sends', () => {
    const bytes = serialize.startup({ user: 'agent', database: 'records-api', application_name: 'x' });
    const packet = decodeStartupPacket(bytes.subarray(4));
    assert.equal(packet.kind, 'StartupMessage');
    if (packet.kind === 'StartupMessage') {
      assert.deepEqual(Object.fromEntries(packet.parameters), {
        user: 'agent',
        database: 'records-api',
        application_name: 'x',
        client_encoding: 'UTF8',
      });
    }
  });

  it('decode a 16 KB password message (an Entra token is several KB)', () => {
    const token = 'e'.repeat(16 * 1024);
    const bytes = serialize.password(token);
    assert.equal(decodePasswordMessage(bytes.subarray(5)), token);
  });

  it('decode a CancelRequest pg sends', () => {
    const bytes = serialize.cancel(77, 88);
    assert.deepEqual(decodeStartupPacket(bytes.subarray(4)), { kind: 'CancelRequest', processId: 77, secretKey: 88 });
  });

  it('refuse a password message without terminator or with trailing bytes', () => {
    const isProtocolError = (e: unknown): boolean => e instanceof ProtocolError;
    assert.throws(() => decodePasswordMessage(new Bytes().raw('abc').body()), isProtocolError);
    assert.throws(() => decodePasswordMessage(new Bytes().cstring('abc').raw('x').body()), isProtocolError);
    assert.throws(() => decodePasswordMessage(Buffer.alloc(0)), isProtocolError);
  });
});
