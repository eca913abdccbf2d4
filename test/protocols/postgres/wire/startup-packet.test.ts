import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeStartupPacket } from '../../../../protocols/postgres/wire/startup-packet.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { Bytes } from '../../../support/byte-builder.js';

/** decodeStartupPacket takes the body after the length word. */
const bodyOf = (b: Bytes): Buffer => b.untyped().subarray(4);

describe('decodeStartupPacket', () => {
  it('recognises SSLRequest, GSSENCRequest and CancelRequest', () => {
    assert.deepEqual(decodeStartupPacket(bodyOf(new Bytes().int32(80877103))), { kind: 'SSLRequest' });
    assert.deepEqual(decodeStartupPacket(bodyOf(new Bytes().int32(80877104))), { kind: 'GSSENCRequest' });
    assert.deepEqual(decodeStartupPacket(bodyOf(new Bytes().int32(80877102).int32(1234).int32(-5))), {
      kind: 'CancelRequest',
      processId: 1234,
      secretKey: -5,
    });
    // idgate's own, between the gateways of a fleet.
    assert.deepEqual(decodeStartupPacket(bodyOf(new Bytes().int32(80877123).int32(77).int32(9))), {
      kind: 'PeerCancelRequest',
      processId: 77,
      secretKey: 9,
    });
  });

  it('reads a 3.0 StartupMessage with every parameter in order', () => {
    const packet = decodeStartupPacket(
      bodyOf(
        new Bytes()
          .int32(196608)
          .cstring('user')
          .cstring('agent')
          .cstring('database')
          .cstring('records-api')
          .cstring('application_name')
          .cstring('psql')
          .cstring(''),
      ),
    );
    assert.equal(packet.kind, 'StartupMessage');
    if (packet.kind !== 'StartupMessage') return;
    assert.equal(packet.majorVersion, 3);
    assert.equal(packet.minorVersion, 0);
    assert.deepEqual(
      [...packet.parameters],
      [
        ['user', 'agent'],
        ['database', 'records-api'],
        ['application_name', 'psql'],
      ],
    );
  });

  it('accepts a newer minor version and _pq_ options (negotiated later, not refused)', () => {
    const packet = decodeStartupPacket(
      bodyOf(
        new Bytes()
          .int32((3 << 16) | 2)
          .cstring('user')
          .cstring('a')
          .cstring('_pq_.compression')
          .cstring('on')
          .cstring(''),
      ),
    );
    assert.equal(packet.kind, 'StartupMessage');
    if (packet.kind !== 'StartupMessage') return;
    assert.equal(packet.minorVersion, 2);
    assert.equal(packet.parameters.get('_pq_.compression'), 'on');
  });

  it('handles UTF-8 parameter values', () => {
    const packet = decodeStartupPacket(bodyOf(new Bytes().int32(196608).cstring('user').cstring('agént-✓').cstring('')));
    assert.equal(packet.kind === 'StartupMessage' && packet.parameters.get('user'), 'agént-✓');
  });

  const malformed: [string, Buffer, string][] = [
    ['protocol 2.0', bodyOf(new Bytes().int32(2 << 16).cstring('')), 'unsupported-protocol'],
    ['a name without NUL', bodyOf(new Bytes().int32(196608).raw('user')), 'missing-terminator'],
    ['a value without NUL', bodyOf(new Bytes().int32(196608).cstring('user').raw('agent')), 'missing-terminator'],
    ['no final terminator', bodyOf(new Bytes().int32(196608).cstring('user').cstring('agent')), 'missing-terminator'],
    ['trailing bytes', bodyOf(new Bytes().int32(196608).cstring('').raw('x')), 'malformed-startup'],
    ['a short CancelRequest', bodyOf(new Bytes().int32(80877102).int32(1)), 'truncated'],
    ['a long PeerCancelRequest', bodyOf(new Bytes().int32(80877123).int32(1).int32(2).int32(3)), 'malformed-startup'],
    ['a long SSLRequest', bodyOf(new Bytes().int32(80877103).int32(1)), 'malformed-startup'],
    ['an empty body', Buffer.alloc(0), 'truncated'],
    ['three bytes', Buffer.from([0, 3, 0]), 'truncated'],
  ];
  for (const [name, body, code] of malformed) {
    it(`refuses ${name} with ${code}`, () => {
      assert.throws(
        () => decodeStartupPacket(body),
        (e: unknown) => e instanceof ProtocolError && e.code === code,
      );
    });
  }
});
