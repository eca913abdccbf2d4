import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serialize } from 'pg-protocol';
import {
  decodeParse,
  decodeParseTypes,
  decodePasswordMessage,
  decodeQuery,
  encodeCancelRequest,
  encodeParse,
  encodePasswordMessage,
  encodeQuery,
  encodeSaslInitialResponse,
  encodeSaslResponse,
  encodeStartupMessage,
  SSL_REQUEST,
} from '../../../../protocols/postgres/wire/frontend-messages.js';
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

  it('encode what node-postgres’s serializer encodes, byte for byte', () => {
    const parameters: [string, string][] = [
      ['user', 'agent'],
      ['database', 'records-api'],
      ['client_encoding', 'UTF8'],
    ];
    assert.deepEqual(encodeStartupMessage(parameters), serialize.startup({ user: 'agent', database: 'records-api' }));
    assert.deepEqual(encodePasswordMessage('sécret'), serialize.password('sécret'));
    assert.deepEqual(
      encodeSaslInitialResponse('SCRAM-SHA-256', 'n,,n=,r=abc'),
      serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=abc'),
    );
    assert.deepEqual(encodeSaslResponse('c=biws,r=abc,p=xyz'), serialize.sendSCRAMClientFinalMessage('c=biws,r=abc,p=xyz'));
    assert.deepEqual(encodeCancelRequest(77, -88), serialize.cancel(77, -88));
    assert.deepEqual(SSL_REQUEST, serialize.requestSsl());
    assert.deepEqual(encodeQuery('SELECT ’1’'), serialize.query('SELECT ’1’'));
    assert.deepEqual(encodeParse(Buffer.from('s1'), 'SELECT $1'), serialize.parse({ name: 's1', text: 'SELECT $1', types: [] }));
  });

  it('decode the Query and Parse node-postgres sends, parameter types read only when asked', () => {
    assert.equal(decodeQuery(serialize.query('SELECT 1; SELECT 2')).toString(), 'SELECT 1; SELECT 2');
    const frame = serialize.parse({ name: 'get', text: 'SELECT $1::int, $2', types: [23, 4294967295] });
    const parse = decodeParse(frame);
    assert.deepEqual([parse.name.toString(), parse.sql.toString()], ['get', 'SELECT $1::int, $2']);
    assert.deepEqual(decodeParseTypes(frame, parse), [23, 4294967295]);
  });

  it('refuse a Query or Parse whose strings run past the frame', () => {
    const isProtocolError = (e: unknown): boolean => e instanceof ProtocolError;
    assert.throws(() => decodeQuery(new Bytes().raw('SELECT 1').frame('Q')), isProtocolError);
    assert.throws(() => decodeParse(new Bytes().cstring('s').raw('SELECT').frame('P')), isProtocolError);
    const noTypes = new Bytes().cstring('s').cstring('SELECT 1').raw('\x00').frame('P');
    assert.throws(() => decodeParseTypes(noTypes, decodeParse(noTypes)), isProtocolError);
  });
});
