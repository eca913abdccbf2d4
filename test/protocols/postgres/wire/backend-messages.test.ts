import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AUTHENTICATION_CLEARTEXT_PASSWORD,
  AUTHENTICATION_OK,
  decodeAuthentication,
  decodeCommandComplete,
  decodeDataRow,
  decodeReadyForQuery,
  encodeBackendKeyData,
  encodeErrorResponse,
  encodeNegotiateProtocolVersion,
  encodeParameterStatus,
  encodeReadyForQuery,
} from '../../../../protocols/postgres/wire/backend-messages.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { Bytes, splitsOf } from '../../../support/byte-builder.js';
import { parseBackend } from '../../../support/parse-backend.js';

describe('backend message encoders', () => {
  it('encode the exact bytes of the protocol documentation', () => {
    assert.deepEqual(AUTHENTICATION_CLEARTEXT_PASSWORD, new Bytes().int32(3).frame('R'));
    assert.deepEqual(AUTHENTICATION_OK, new Bytes().int32(0).frame('R'));
    assert.deepEqual(encodeBackendKeyData(42, -7), new Bytes().int32(42).int32(-7).frame('K'));
    assert.deepEqual(encodeReadyForQuery('I'), new Bytes().int8(0x49).frame('Z'));
    assert.deepEqual(encodeParameterStatus('TimeZone', 'UTC'), new Bytes().cstring('TimeZone').cstring('UTC').frame('S'));
    assert.deepEqual(
      encodeNegotiateProtocolVersion(0, ['_pq_.a', '_pq_.b']),
      new Bytes().int32(0).int32(2).cstring('_pq_.a').cstring('_pq_.b').frame('v'),
    );
    assert.deepEqual(
      encodeErrorResponse({ severity: 'FATAL', sqlstate: '28P01', message: 'token has expired', detail: 'd', hint: 'h' }),
      new Bytes()
        .raw('S')
        .cstring('FATAL')
        .raw('V')
        .cstring('FATAL')
        .raw('C')
        .cstring('28P01')
        .raw('M')
        .cstring('token has expired')
        .raw('D')
        .cstring('d')
        .raw('H')
        .cstring('h')
        .int8(0)
        .frame('E'),
    );
  });

  it('are read back by node-postgres’s parser, whole and split at every byte', async () => {
    const stream = Buffer.concat([
      AUTHENTICATION_CLEARTEXT_PASSWORD,
      AUTHENTICATION_OK,
      encodeParameterStatus('application_name', 'agent ✓'),
      encodeBackendKeyData(123456, 987654),
      encodeErrorResponse({ severity: 'FATAL', sqlstate: '3D000', message: 'connection "x" does not exist' }),
      encodeReadyForQuery('T'),
    ]);
    const expectations = (messages: Awaited<ReturnType<typeof parseBackend>>): void => {
      assert.deepEqual(
        messages.map((m) => m.name),
        ['authenticationCleartextPassword', 'authenticationOk', 'parameterStatus', 'backendKeyData', 'error', 'readyForQuery'],
      );
      const [, , status, key, error, ready] = messages as unknown as [
        unknown,
        unknown,
        { parameterName: string; parameterValue: string },
        { processID: number; secretKey: number },
        { code: string; severity: string; message: string },
        { status: string },
      ];
      assert.equal(status.parameterValue, 'agent ✓');
      assert.deepEqual([key.processID, key.secretKey], [123456, 987654]);
      assert.deepEqual([error.code, error.severity, error.message], ['3D000', 'FATAL', 'connection "x" does not exist']);
      assert.equal(ready.status, 'T');
    };
    expectations(await parseBackend([stream]));
    for (const split of splitsOf(stream)) expectations(await parseBackend(split));
  });
});

describe('backend decoders', () => {
  const isProtocolError = (e: unknown): boolean => e instanceof ProtocolError;

  it('decode CommandComplete, DataRow and ReadyForQuery bodies and frames', () => {
    assert.equal(decodeCommandComplete(new Bytes().cstring('INSERT 0 3').body()), 'INSERT 0 3');
    const row = new Bytes().int16(3).int32(2).raw('hi').int32(-1).int32(0).frame('D');
    assert.deepEqual(decodeDataRow(row, 5), [Buffer.from('hi'), null, Buffer.alloc(0)]);
    assert.equal(decodeReadyForQuery(new Bytes().raw('T').frame('Z'), 5), 'T');
  });

  it('decode each Authentication request the upstream login handles, and name the others', () => {
    assert.deepEqual(decodeAuthentication(new Bytes().int32(0).body()), { request: 0 });
    assert.deepEqual(decodeAuthentication(new Bytes().int32(5).raw('salt').body()), { request: 5, salt: Buffer.from('salt') });
    assert.deepEqual(decodeAuthentication(new Bytes().int32(10).cstring('SCRAM-SHA-256-PLUS').cstring('SCRAM-SHA-256').int8(0).body()), {
      request: 10,
      mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'],
    });
    assert.deepEqual(decodeAuthentication(new Bytes().int32(11).raw('r=abc,s=xyz,i=4096').body()), {
      request: 11,
      data: 'r=abc,s=xyz,i=4096',
    });
    assert.deepEqual(decodeAuthentication(new Bytes().int32(7).body()), { request: 'unsupported', code: 7 });
  });

  it('refuse truncated rows and authentication requests with a ProtocolError', () => {
    const row = new Bytes().int16(2).int32(2).raw('hi').int32(-1).body();
    for (let n = 0; n < row.length; n++) assert.throws(() => decodeDataRow(row.subarray(0, n)), isProtocolError, `cut to ${n}`);
    assert.throws(() => decodeDataRow(new Bytes().int16(1).int32(-5).body()), isProtocolError);
    assert.throws(() => decodeAuthentication(new Bytes().int32(5).raw('sa').body()), isProtocolError);
    assert.throws(() => decodeAuthentication(new Bytes().int32(10).cstring('SCRAM-SHA-256').body()), isProtocolError);
    assert.throws(() => decodeCommandComplete(new Bytes().raw('SELECT 1').body()), isProtocolError);
  });
});
