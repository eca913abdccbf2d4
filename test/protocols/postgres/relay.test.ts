import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { streamSource } from '../../../protocols/postgres/read-source.js';
import { Relay, type RelayEnd } from '../../../protocols/postgres/relay.js';
import { encodeErrorResponse } from '../../../protocols/postgres/wire/backend-messages.js';
import type { StatementGate } from '../../../protocols/postgres/policy/statement-gate.js';
import { Bytes } from '../../support/byte-builder.js';

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
    const failing = {
      fromClient: () => {
        throw new TypeError('secret internal detail: cannot read properties of undefined');
      },
      fromServer: (chunk: Buffer) => [chunk],
      judging: false,
      holdingClientFrame: false,
      abandon: () => undefined,
    } as unknown as StatementGate;
    let ended: RelayEnd | undefined;
    const fatal = encodeErrorResponse({ severity: 'FATAL', sqlstate: 'XX000', message: 'internal error in the gateway (session s-1)' });
    const relay = new Relay(
      streamSource(client.near),
      streamSource(upstream.near),
      (end) => (ended = end),
      () => Buffer.alloc(0),
      { gate: failing, internalError: () => fatal },
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
