import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { streamSource } from '../../../../protocols/postgres/read-source.js';
import { Relay } from '../../../../protocols/postgres/relay/relay.js';
import type { RelayEnd, RelayOptions } from '../../../../protocols/postgres/relay/relay-options.js';
import { encodeErrorResponse } from '../../../../protocols/postgres/wire/backend-messages.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { PASS, type FrameStage } from '../../../../protocols/postgres/wire/frame-stage.js';
import { StatementGate } from '../../../../protocols/postgres/policy/statement-gate.js';
import { parseScope } from '../../../../src/config/scope.js';
import { analysisContext } from '../../../support/sql-analysis.js';
import { Bytes } from '../../../support/byte-builder.js';

/** Two connected loopback socket pairs: the relay's client and upstream sides, and the test's ends of them. */
async function socketPair(): Promise<{ near: Socket; far: Socket; close: () => void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const far = connect(port, '127.0.0.1');
  const near = await accepted;
  server.close();
  return { near, far, close: () => (near.destroy(), far.destroy()) };
}

function collect(socket: Socket): { bytes: () => Buffer; closed: Promise<void> } {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return { bytes: () => Buffer.concat(chunks), closed: new Promise((resolve) => socket.once('close', () => resolve())) };
}

/** Fault injection: a stage that throws at every frame's header (a bug in the gateway). */
function failingStage(message: string): FrameStage {
  return {
    interest: new Uint8Array(256).fill(1),
    header: () => {
      throw new TypeError(message);
    },
  };
}

/** A stage that lets every frame pass (to check that a scoped session's relay is otherwise unchanged). */
const PASSING: FrameStage = { interest: new Uint8Array(256).fill(1), header: () => PASS };

describe('Relay', () => {
  let client: Awaited<ReturnType<typeof socketPair>>;
  let upstream: Awaited<ReturnType<typeof socketPair>>;
  before(async () => {
    client = await socketPair();
    upstream = await socketPair();
  });
  after(() => {
    client.close();
    upstream.close();
  });

  it('gives the client a generic FATAL, never an internal exception’s text, when the gateway fails while reading', async () => {
    // Fault injection: a gate whose judgement throws an unexpected exception (a bug in the gateway).
    const failing = failingStage('secret internal detail: cannot read properties of undefined');
    let ended: RelayEnd | undefined;
    const fatal = encodeErrorResponse({ severity: 'FATAL', sqlstate: 'XX000', message: 'internal error in the gateway (session s-1)' });
    const relay = new Relay(
      streamSource(client.near),
      streamSource(upstream.near),
      (end) => (ended = end),
      () => Buffer.alloc(0),
      { clientStages: [failing], serverStages: [PASSING], internalError: () => fatal },
    );
    relay.start(Buffer.alloc(0), Buffer.alloc(0));
    upstream.far.on('data', () => undefined).once('end', () => upstream.far.end()); // a server closes when told to Terminate
    const seen = collect(client.far);
    client.far.write(new Bytes().cstring('SELECT 1').frame('Q'));
    await seen.closed;
    assert.ok(seen.bytes().equals(fatal), 'the client got exactly the generic FATAL');
    assert.ok(!seen.bytes().toString('latin1').includes('secret internal detail'));
    for (let i = 0; i < 50 && ended === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(ended?.reason, 'internal-error');
    assert.match(ended?.error?.message ?? '', /secret internal detail/, 'the detail is kept for the log');
  });
});

/** A relay between two fresh socket pairs, and what it reported when it ended. */
async function startRelay(options: RelayOptions = {}): Promise<{
  client: Awaited<ReturnType<typeof socketPair>>;
  upstream: Awaited<ReturnType<typeof socketPair>>;
  relay: Relay;
  ended: () => Promise<RelayEnd>;
}> {
  const client = await socketPair();
  const upstream = await socketPair();
  let resolveEnd: (end: RelayEnd) => void = () => undefined;
  const end = new Promise<RelayEnd>((resolve) => (resolveEnd = resolve));
  const relay = new Relay(streamSource(client.near), streamSource(upstream.near), resolveEnd, violation, options);
  relay.start(Buffer.alloc(0), Buffer.alloc(0));
  return { client, upstream, relay, ended: () => end };
}

/** The FATAL a protocol error becomes, as the client connection builds it. */
const violation = (e: ProtocolError): Buffer => encodeErrorResponse({ severity: 'FATAL', sqlstate: '08P01', message: e.message });

/** Resolves once `socket` has received `length` bytes in all; the bytes. */
function receive(socket: Socket, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  return new Promise((resolve) => {
    const onData = (c: Buffer): void => {
      chunks.push(c);
      total += c.length;
      if (total < length) return;
      socket.off('data', onData);
      resolve(Buffer.concat(chunks));
    };
    socket.on('data', onData);
  });
}

/** Writes `bytes` in pieces of `size`, one per turn of the event loop, so they arrive as separate chunks. */
async function writeInPieces(socket: Socket, bytes: Buffer, size: number): Promise<void> {
  for (let p = 0; p < bytes.length; p += size) {
    socket.write(bytes.subarray(p, p + size));
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('Relay moving bytes', () => {
  it('forwards both directions byte for byte however the frames are cut, and ends on the client’s Terminate', async () => {
    const { client, upstream, ended } = await startRelay();
    const fromClient = Buffer.concat([
      new Bytes().cstring('SELECT 1').frame('Q'),
      new Bytes().cstring('').cstring('SELECT $1::int').int16(0).frame('P'),
      new Bytes().frame('S'),
    ]);
    const upstreamGot = receive(upstream.far, fromClient.length);
    await writeInPieces(client.far, fromClient, 3);
    assert.ok((await upstreamGot).equals(fromClient), 'the upstream got exactly what the client sent');

    const fromServer = Buffer.concat([new Bytes().cstring('SELECT 1').frame('C'), new Bytes().raw('I').frame('Z')]);
    const clientGot = receive(client.far, fromServer.length);
    await writeInPieces(upstream.far, fromServer, 2);
    assert.ok((await clientGot).equals(fromServer), 'the client got exactly what the server sent');

    const terminate = new Bytes().frame('X');
    const upstreamTerminate = receive(upstream.far, terminate.length);
    upstream.far.once('end', () => upstream.far.end());
    client.far.end(terminate);
    assert.ok((await upstreamTerminate).equals(terminate));
    assert.equal((await ended()).reason, 'client-terminated');
  });

  it('ends a session whose client sends a malformed frame with the protocol error, and forwards nothing of it', async () => {
    const { client, upstream, ended } = await startRelay();
    let upstreamBytes = 0;
    upstream.far.on('data', (c: Buffer) => (upstreamBytes += c.length === 5 && c[0] === 0x58 ? 0 : c.length));
    upstream.far.once('end', () => upstream.far.end());
    const seen = collect(client.far);
    client.far.write(Buffer.from([0x51, 0x00, 0x00, 0x00, 0x03])); // a length below 4
    await seen.closed;
    assert.ok(
      seen.bytes().equals(violation(new ProtocolError('frame-too-short', 'message length 3 is below 4'))),
      'the client got the FATAL and nothing else',
    );
    const end = await ended();
    assert.equal(end.reason, 'protocol-violation');
    assert.equal(upstreamBytes, 0, 'nothing but a Terminate went upstream');
  });

  it('ends the session when the database closes its side', async () => {
    const { client, upstream, ended } = await startRelay();
    const seen = collect(client.far);
    upstream.far.end();
    assert.equal((await ended()).reason, 'upstream-closed');
    await seen.closed;
  });

  it('stops reading the client while the database does not read, and loses nothing once it does', async () => {
    const { client, upstream, ended } = await startRelay();
    upstream.far.pause();
    const frame = new Bytes().cstring(`SELECT '${'x'.repeat(64 * 1024)}'`).frame('Q');
    const frames = 256; // 16 MiB: far more than the sockets' buffers hold
    for (let i = 0; i < frames; i++) client.far.write(frame);
    for (let i = 0; i < 100 && !client.near.isPaused(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(client.near.isPaused(), 'the relay paused the client while the upstream did not read');
    const all = receive(upstream.far, frame.length * frames);
    upstream.far.resume();
    const got = await all;
    assert.equal(got.length, frame.length * frames);
    assert.ok(got.subarray(0, frame.length).equals(frame) && got.subarray(-frame.length).equals(frame), 'in order, whole');
    upstream.far.once('end', () => upstream.far.end());
    client.far.end(new Bytes().frame('X'));
    assert.equal((await ended()).reason, 'client-terminated');
  });
});

describe('Relay when the database’s bytes cannot be followed', () => {
  it('ends only that session, with a FATAL naming the database, when the database sends a malformed frame', async () => {
    const { client, upstream, ended } = await startRelay();
    const seen = collect(client.far);
    upstream.far.on('error', () => undefined);
    const complete = new Bytes().cstring('SELECT 1').frame('C');
    const first = receive(client.far, complete.length);
    upstream.far.write(complete);
    await first;
    upstream.far.write(Buffer.from([0x44, 0x00, 0x00, 0x00, 0x02])); // a DataRow of length 2
    await seen.closed;
    const end = await ended();
    assert.equal(end.reason, 'upstream-protocol-violation');
    const bytes = seen.bytes();
    assert.ok(bytes.subarray(0, complete.length).equals(complete), 'what came before the bad frame was delivered');
    const fatal = bytes.subarray(complete.length);
    assert.equal(String.fromCharCode(fatal[0] ?? 0), 'E', 'then an ErrorResponse');
    assert.match(fatal.toString('latin1'), /C08P01\0.*the database sent a malformed message/s);
  });

  it('closes the client without a FATAL when the failure comes in the middle of a message it was being sent', async () => {
    const { client, upstream, ended } = await startRelay();
    const seen = collect(client.far);
    upstream.far.on('error', () => undefined);
    const row = new Bytes().int16(1).int32(4).raw('abcd').frame('D');
    upstream.far.write(row.subarray(0, 8)); // the client now holds half a DataRow
    await new Promise((r) => setTimeout(r, 20));
    upstream.far.write(Buffer.concat([row.subarray(8), Buffer.from([0x44, 0x00, 0x00, 0x00, 0x01])]));
    await seen.closed;
    assert.equal((await ended()).reason, 'upstream-protocol-violation');
    assert.ok(seen.bytes().equals(row.subarray(0, 8)), 'no ErrorResponse lands inside the half-sent message');
  });

  it('gives the client the generic internal-error FATAL when the gateway fails while reading the database', async () => {
    const failing = failingStage('secret internal detail from the server side');
    const fatal = encodeErrorResponse({ severity: 'FATAL', sqlstate: 'XX000', message: 'internal error in the gateway (session s-2)' });
    const { client, upstream, ended } = await startRelay({ clientStages: [PASSING], serverStages: [failing], internalError: () => fatal });
    const seen = collect(client.far);
    upstream.far.on('error', () => undefined);
    upstream.far.write(new Bytes().cstring('SELECT 1').frame('C'));
    await seen.closed;
    assert.ok(seen.bytes().equals(fatal));
    const end = await ended();
    assert.equal(end.reason, 'internal-error');
    assert.match(end.error?.message ?? '', /secret internal detail/);
  });
});

describe('Relay with a scope gate', () => {
  it('ends the session, never guesses, when the server replies to nothing the gateway forwarded (the reply tracker out of sync)', async () => {
    const gate = new StatementGate(parseScope('read'), await analysisContext(), {
      pinnedApplicationName: (asked) => asked,
      denied: () => undefined,
      approvalNeeded: () => ({ kind: 'too-many', limit: 0 }),
      lexicalStateChanged: () => undefined,
    });
    const { client, upstream, ended } = await startRelay({ clientStages: [gate.clientStage], serverStages: [gate.serverStage] });
    const seen = collect(client.far);
    upstream.far.on('error', () => undefined);
    upstream.far.write(new Bytes().cstring('DELETE 3').frame('C')); // answers nothing: no statement was sent
    await seen.closed;
    const end = await ended();
    assert.equal(end.reason, 'upstream-protocol-violation');
    assert.ok(end.error instanceof ProtocolError && end.error.code === 'reply-out-of-sync', String(end.error));
    assert.match(seen.bytes().toString('latin1'), /08P01/);
    client.close();
    upstream.close();
  });
});

/**
 * What ends the session, and whether the gateway ended it: its own ends (an operator's terminate, a
 * malformed or oversized client frame, a malformed server frame, a failure of its own on either side)
 * must call `onGatewayEnd` — the session cancels a statement under way upstream there — and the
 * sides' own ends (the client's Terminate or disconnect, the server closing) must not.
 */
const ENDS: readonly {
  readonly what: string;
  readonly gateway: boolean;
  readonly options?: RelayOptions;
  readonly act: (s: Awaited<ReturnType<typeof startRelay>>) => void;
}[] = [
  {
    what: 'an operator’s terminate, asked twice',
    gateway: true,
    act: (s) => {
      s.relay.terminate('admin-terminated', Buffer.alloc(0));
      s.relay.terminate('admin-terminated', Buffer.alloc(0));
    },
  },
  { what: 'a malformed client frame', gateway: true, act: (s) => s.client.far.write(Buffer.from([0x51, 0, 0, 0, 3])) },
  {
    what: 'a client message over the limit',
    gateway: true,
    options: { maxClientMessage: 64 },
    act: (s) => s.client.far.write(new Bytes().cstring('x'.repeat(100)).frame('Q')),
  },
  {
    what: 'the gateway failing on a client frame',
    gateway: true,
    options: { clientStages: [failingStage('client side')] },
    act: (s) => s.client.far.write(new Bytes().cstring('SELECT 1').frame('Q')),
  },
  { what: 'a malformed server frame', gateway: true, act: (s) => s.upstream.far.write(Buffer.from([0x44, 0, 0, 0, 2])) },
  {
    what: 'the gateway failing on a server frame',
    gateway: true,
    options: { serverStages: [failingStage('server side')] },
    act: (s) => s.upstream.far.write(new Bytes().cstring('SELECT 1').frame('C')),
  },
  { what: 'the client’s Terminate', gateway: false, act: (s) => s.client.far.end(new Bytes().frame('X')) },
  { what: 'the client going away', gateway: false, act: (s) => s.client.far.destroy() },
  { what: 'the server closing', gateway: false, act: (s) => s.upstream.far.end() },
];

describe('Relay ends: the gateway’s own, and the sides’', () => {
  for (const end of ENDS) {
    it(`${end.gateway ? 'calls' : 'does not call'} onGatewayEnd for ${end.what}`, async () => {
      let called = 0;
      const s = await startRelay({ ...end.options, onGatewayEnd: () => (called += 1) });
      s.client.far.on('error', () => undefined).on('data', () => undefined);
      s.upstream.far
        .on('error', () => undefined)
        .on('data', () => undefined)
        .once('end', () => s.upstream.far.end());
      end.act(s);
      await s.ended();
      assert.equal(called, end.gateway ? 1 : 0);
      s.client.close();
      s.upstream.close();
    });
  }
});
