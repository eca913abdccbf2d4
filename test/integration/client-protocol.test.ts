import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postgresProtocol } from '../../protocols/postgres/index.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { Bytes } from '../support/byte-builder.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { errorOf, RawClient } from '../support/raw-client.js';

describe('client-side protocol handling', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ listen: { 'max-connections': 20, 'auth-timeout-seconds': 1 } });
  });
  after(async () => {
    await h.stop();
  });

  const params = { user: 'raw-agent', database: CONNECTION };

  it('answers GSSENCRequest with N, then SSLRequest with S and TLS', async () => {
    const c = await RawClient.connect(h.port);
    c.write(new Bytes().int32(80877104).untyped());
    assert.equal((await c.readBytes(1)).toString(), 'N');
    await c.startTls();
    const frames = await c.login(await h.token(), params);
    assert.equal(frames.at(-1)?.code, 'Z');
    c.write(new Bytes().cstring('SELECT 42').frame('Q'));
    const result = await c.untilReady();
    assert.deepEqual(
      result.map((f) => f.code),
      ['T', 'D', 'C', 'Z'],
    );
    c.write(new Bytes().frame('X'));
    await c.waitClosed();
    await h.assertNoLeaks();
  });

  it('sends NegotiateProtocolVersion to a 3.2 client with _pq_ options, and the session works', async () => {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    const frames = await c.login(await h.token(), { ...params, '_pq_.test_option': 'on' }, (3 << 16) | 2);
    const negotiate = frames.find((f) => f.code === 'v');
    assert.ok(negotiate, 'NegotiateProtocolVersion expected');
    assert.equal(negotiate.body.readInt32BE(0), 0, 'newest minor version we speak');
    assert.equal(negotiate.body.readInt32BE(4), 1);
    assert.equal(negotiate.body.toString('utf8', 8, negotiate.body.length - 1), '_pq_.test_option');
    assert.equal(frames.at(-1)?.code, 'Z');
    const key = frames.find((f) => f.code === 'K');
    assert.ok(key, 'BackendKeyData expected');
    // The upstream's own ParameterStatus values reach the client.
    const status = new Map(
      frames
        .filter((f) => f.code === 'S')
        .map((f) => {
          const [name, value] = f.body.toString('utf8').split('\0');
          return [name, value] as const;
        }),
    );
    assert.equal(status.get('server_version'), await h.cluster.sql('SHOW server_version'));
    assert.equal(status.get('session_authorization'), 'sync_writer');
    assert.equal(status.get('client_encoding'), 'UTF8');
    c.close();
  });

  it('refuses plaintext bytes that arrive after SSLRequest, before the handshake', async () => {
    const c = await RawClient.connect(h.port);
    c.write(
      Buffer.concat([new Bytes().int32(80877103).untyped(), new Bytes().int32(196608).cstring('user').cstring('x').cstring('').untyped()]),
    );
    const frame = await c.readFrame();
    assert.equal(frame.code, 'E');
    assert.equal(errorOf(frame).code, '08P01');
    await c.waitClosed();
  });

  it('refuses a bad startup packet sent inside TLS with an ErrorResponse inside TLS, not plaintext under it', async () => {
    for (const bad of [Buffer.from([0, 0, 0, 4]), new Bytes().int32(80877103).untyped()]) {
      const c = await RawClient.connect(h.port);
      await c.startTls();
      c.write(bad);
      const frame = await c.readFrame();
      assert.equal(frame.code, 'E');
      assert.equal(errorOf(frame).code, '08P01');
      await c.waitClosed();
    }
  });

  it('refuses to ask for the token without TLS (allow-plaintext: false)', async () => {
    const c = await RawClient.connect(h.port);
    const frames = await c.login('unused', params);
    const error = frames.at(-1);
    assert.equal(error?.code, 'E');
    assert.equal(errorOf(error).code, '28000');
    assert.ok(!frames.some((f) => f.code === 'R'), 'no authentication request without TLS');
  });

  it('accepts the token over plaintext when allow-plaintext is true', async () => {
    // A second gateway needs an audit database of its own (one writer per database).
    const recordingsPath = h.config.recordingsPath.replace(/\.db$/, '-plaintext.db');
    const plain = await startGateway(
      { ...h.config, recordingsPath, listen: { ...h.config.listen, port: 0, allowPlaintext: true } },
      postgresProtocol,
      { logger: createLogger('silent') },
    );
    try {
      const c = await RawClient.connect(plain.port);
      c.write(new Bytes().int32(80877103).untyped());
      assert.equal((await c.readBytes(1)).toString(), 'S', 'TLS is still offered');
      c.close();
      const p = await RawClient.connect(plain.port);
      assert.equal((await p.login(await h.token(), params)).at(-1)?.code, 'Z');
      p.close();
    } finally {
      await plain.shutdown();
    }
  });

  it('a shutdown waits for connections still authenticating, not only for sessions', async () => {
    const recordingsPath = h.config.recordingsPath.replace(/\.db$/, '-drain.db');
    const gateway = await startGateway({ ...h.config, recordingsPath, listen: { ...h.config.listen, port: 0 } }, postgresProtocol, {
      logger: createLogger('silent'),
    });
    const pending = await RawClient.connect(gateway.port);
    let stopped = false;
    const stopping = gateway.shutdown().then(() => {
      stopped = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(stopped, false, 'the shutdown did not wait for the open connection');
    pending.close();
    await stopping;
  });

  it('relays an unknown message type to the upstream, which refuses it, and the session ends cleanly', async () => {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    await c.login(await h.token(), params);
    c.write(new Bytes().cstring('?').frame('z'));
    const frame = await c.readFrame();
    assert.equal(errorOf(frame).code, '08P01');
    assert.match(errorOf(frame).message, /invalid frontend message type/);
    await c.waitClosed();
    await h.assertNoLeaks();
  });

  it('survives clients that vanish mid-message, at every stage', async () => {
    const startup = new Bytes().int32(196608).cstring('user').cstring('u').cstring('database').cstring(CONNECTION).cstring('').untyped();
    for (const stage of ['startup', 'tls', 'password']) {
      const c = await RawClient.connect(h.port);
      if (stage === 'startup') c.write(startup.subarray(0, 7));
      if (stage !== 'startup') await c.startTls();
      if (stage === 'password') {
        c.write(startup);
        await c.readFrame();
        c.write(new Bytes().cstring('x'.repeat(100)).frame('p').subarray(0, 50));
      }
      c.close();
    }
    const ok = await RawClient.connect(h.port);
    await ok.startTls();
    assert.equal((await ok.login(await h.token(), params)).at(-1)?.code, 'Z');
    ok.close();
    await h.assertNoLeaks();
  });

  it('accepts a token of 16 KB and more in the password message (refused for its content, not its size)', async () => {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    const frames = await c.login('x'.repeat(20_000), params);
    const error = frames.at(-1);
    assert.equal(error?.code, 'E');
    assert.equal(errorOf(error).code, '28P01');
  });

  const malformed: [string, (c: RawClient) => void, string][] = [
    ['a startup length below 8', (c) => c.write(Buffer.from([0, 0, 0, 4])), '08P01'],
    [
      'a startup packet over 10 KB',
      (c) => c.write(new Bytes().int32(196608).cstring('user').cstring('x'.repeat(11_000)).cstring('').untyped()),
      '08P01',
    ],
    ['a startup parameter without NUL', (c) => c.write(new Bytes().int32(196608).raw('user').untyped()), '08P01'],
    [
      'protocol 2.0',
      (c) =>
        c.write(
          new Bytes()
            .int32(2 << 16)
            .cstring('')
            .untyped(),
        ),
      '0A000',
    ],
    [
      'protocol 4.0',
      (c) =>
        c.write(
          new Bytes()
            .int32(4 << 16)
            .cstring('')
            .untyped(),
        ),
      '0A000',
    ],
    ['garbage', (c) => c.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), '08P01'],
  ];
  for (const [name, send, code] of malformed) {
    it(`closes the connection on ${name} with ${code}, and keeps serving others`, async () => {
      const c = await RawClient.connect(h.port);
      send(c);
      const frame = await c.readFrame();
      assert.equal(frame.code, 'E');
      assert.equal(errorOf(frame).code, code);
      await c.waitClosed();
      const ok = await RawClient.connect(h.port);
      await ok.startTls();
      assert.equal((await ok.login(await h.token(), params)).at(-1)?.code, 'Z');
      ok.close();
    });
  }

  it('refuses malformed password messages', async () => {
    for (const bad of [new Bytes().cstring('x').frame('Q'), Buffer.from([0x70, 0, 0, 0, 2]), Buffer.from([0x70, 0, 1, 0, 0])]) {
      const c = await RawClient.connect(h.port);
      await c.startTls();
      c.write(new Bytes().int32(196608).cstring('user').cstring('u').cstring('database').cstring(CONNECTION).cstring('').untyped());
      assert.equal((await c.readFrame()).code, 'R');
      c.write(bad);
      const frame = await c.readFrame();
      assert.equal(errorOf(frame).code, '08P01');
      await c.waitClosed();
    }
  });

  it('ends a session whose client sends a frame with a length below 4 after login', async () => {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    await c.login(await h.token(), params);
    c.write(Buffer.from([0x51, 0, 0, 0, 1]));
    const frame = await c.readFrame();
    assert.equal(errorOf(frame).code, '08P01');
    await c.waitClosed();
    await h.assertNoLeaks();
  });

  it('closes a connection that stalls before authenticating (auth timeout)', async () => {
    const c = await RawClient.connect(h.port);
    c.write(Buffer.from([0, 0, 0])); // slowloris: a partial length, then nothing
    const frame = await c.readFrame(3000);
    assert.equal(errorOf(frame).code, '08006');
    assert.match(errorOf(frame).message, /timed out/);
    await c.waitClosed();
  });

  it('closes a connection that stalls inside the TLS handshake, and one that answers S with garbage', async () => {
    const sslRequest = new Bytes().int32(80877103).untyped();
    const stalled = await RawClient.connect(h.port);
    stalled.write(sslRequest);
    assert.equal(String(await stalled.readBytes(1)), 'S');
    stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // a ClientHello record's first bytes, then nothing
    const started = Date.now();
    await stalled.waitClosed(5000);
    assert.ok(Date.now() - started >= 500, 'closed by the authentication timeout, not at once');

    const garbage = await RawClient.connect(h.port);
    garbage.write(sslRequest);
    assert.equal(String(await garbage.readBytes(1)), 'S');
    garbage.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await garbage.waitClosed(5000);

    const ok = await RawClient.connect(h.port);
    await ok.startTls();
    assert.equal((await ok.login(await h.token(), params)).at(-1)?.code, 'Z');
    ok.close();
    await h.assertNoLeaks();
  });

  it('refuses startup parameters that could change the session’s rights', async () => {
    for (const extra of [
      { options: '-c role=postgres' },
      { options: '-c default_transaction_read_only=off' },
      { session_authorization: 'x' },
      { replication: 'database' },
    ]) {
      const c = await RawClient.connect(h.port);
      await c.startTls();
      const frames = await c.login(await h.token(), { ...params, ...extra });
      assert.equal(frames.at(-1)?.code, 'E', JSON.stringify(extra));
      assert.ok(['42501', '28000'].includes(errorOf(frames.at(-1) ?? assert.fail('no frames')).code));
    }
  });

  it('forwards allowed settings in options to the upstream', async () => {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    await c.login(await h.token(), { ...params, options: '-c statement_timeout=1234 --lock-timeout=4321' });
    c.write(new Bytes().cstring("SELECT current_setting('statement_timeout') || '/' || current_setting('lock_timeout')").frame('Q'));
    const frames = await c.untilReady();
    const row = frames.find((f) => f.code === 'D');
    assert.match(row?.body.toString() ?? '', /1234ms\/4321ms/);
    c.close();
  });

  it('refuses connections beyond max-connections with 53300', async () => {
    const held: RawClient[] = [];
    for (let i = 0; i < 20; i++) held.push(await RawClient.connect(h.port));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await RawClient.connect(h.port);
    const frame = await extra.readFrame();
    assert.equal(errorOf(frame).code, '53300');
    for (const c of held) c.close();
    await h.assertNoLeaks();
  });
});
