import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { JournalMac, MAC_BYTES } from '../../../src/signing/journal-mac.js';

describe('the journal MAC', () => {
  const key = randomBytes(32);
  const mac = new JournalMac(key, 'log-1');
  const payload = randomBytes(900);

  it('is the first 16 bytes of SHA-512/256 over key, log id, newline and payload', () => {
    const expected = createHash('sha512-256').update(key).update('log-1\n').update(payload).digest().subarray(0, MAC_BYTES);
    assert.deepEqual(mac.tag(payload), expected);
  });

  it('tags a payload where it lies the same way, and leaves no byte of the key behind it', () => {
    const buffer = Buffer.alloc(mac.prefixLength + payload.length + 7 + MAC_BYTES, 0xee);
    payload.copy(buffer, mac.prefixLength);
    const at = mac.prefixLength + payload.length + 7;
    mac.tagInto(buffer, mac.prefixLength, mac.prefixLength + payload.length, at);
    assert.deepEqual(buffer.subarray(at), mac.tag(payload));
    assert.ok(
      buffer.subarray(0, mac.prefixLength).every((b) => b === 0),
      'the key prefix is zeroed',
    );
    assert.deepEqual(buffer.subarray(mac.prefixLength, mac.prefixLength + payload.length), payload, 'the payload is untouched');
    assert.ok(
      buffer.subarray(mac.prefixLength + payload.length, at).every((b) => b === 0xee),
      'nothing between the payload and the tag is touched',
    );
  });

  it('writes the tag into the bytes the key prefix took, after zeroing them', () => {
    const buffer = Buffer.alloc(mac.prefixLength + payload.length, 0xee);
    payload.copy(buffer, mac.prefixLength);
    mac.tagInto(buffer, mac.prefixLength, buffer.length, 4);
    assert.deepEqual(buffer.subarray(4, 4 + MAC_BYTES), mac.tag(payload));
    assert.ok(buffer.subarray(0, 4).every((b) => b === 0) && buffer.subarray(4 + MAC_BYTES, mac.prefixLength).every((b) => b === 0));
  });

  it('changes with any byte of the payload, the log id or the key', () => {
    const flipped = Buffer.from(payload);
    flipped[500] = (flipped[500] ?? 0) ^ 1;
    assert.notDeepEqual(mac.tag(flipped), mac.tag(payload));
    assert.notDeepEqual(new JournalMac(key, 'log-2').tag(payload), mac.tag(payload));
    assert.notDeepEqual(new JournalMac(randomBytes(32), 'log-1').tag(payload), mac.tag(payload));
  });

  it('reads the tag an earlier build wrote (HMAC-SHA256, version 2 journals)', () => {
    const expected = createHmac('sha256', key).update('log-1').update('\n').update(payload).digest().subarray(0, MAC_BYTES);
    assert.deepEqual(mac.tagV2(payload), expected);
  });
});
