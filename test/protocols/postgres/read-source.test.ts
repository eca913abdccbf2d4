import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { adoptWithOwnBuffer, type ReadSource } from '../../../protocols/postgres/read-source.js';

interface Adopted {
  readonly socket: Socket;
  readonly source: ReadSource;
}

/** A server that adopts each connection it accepts (paused, as the gateway's listener does). */
async function adoptingServer(): Promise<{ server: Server; port: number; next: () => Promise<Adopted> }> {
  const waiting: ((a: Adopted) => void)[] = [];
  const ready: Adopted[] = [];
  const server = createServer({ pauseOnConnect: true }, (accepted) => {
    const adopted = adoptWithOwnBuffer(accepted);
    const take = waiting.shift();
    if (take) take(adopted);
    else ready.push(adopted);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const next = (): Promise<Adopted> => {
    const a = ready.shift();
    return a ? Promise.resolve(a) : new Promise((resolve) => waiting.push(resolve));
  };
  return { server, port: (server.address() as AddressInfo).port, next };
}

/** A client connected to an adopting server, and what closes all three. */
async function connectedPair(): Promise<{ client: Socket; adopted: Adopted; close: () => void }> {
  const { server, port, next } = await adoptingServer();
  const client = connect(port, '127.0.0.1');
  const adopted = await next();
  const close = (): void => {
    client.destroy();
    adopted.socket.destroy();
    server.close();
  };
  return { client, adopted, close };
}

function collect(source: ReadSource, holds?: () => boolean): { chunks: Buffer[]; copies: Buffer[] } {
  const chunks: Buffer[] = [];
  const copies: Buffer[] = [];
  source.setHandler((chunk) => {
    chunks.push(chunk);
    copies.push(Buffer.from(chunk));
  }, holds);
  return { chunks, copies };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), 'condition not reached');
}

describe('accepted connections read into their own buffer', () => {
  it('delivers every byte in order, answers on the same connection, and sees the client end', async () => {
    const { server, port, next } = await adoptingServer();
    const client = connect(port, '127.0.0.1');
    const adopted = await next();
    const { copies } = collect(adopted.source);
    const sent = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    client.write(sent);
    await until(() => copies.reduce((n, c) => n + c.length, 0) === sent.length);
    assert.deepEqual(Buffer.concat(copies), sent);

    const reply = once(client, 'data');
    adopted.socket.write('pong');
    assert.equal(String((await reply)[0]), 'pong');
    assert.equal(adopted.socket.remotePort, client.localPort, 'the adopted socket is the same connection');

    const ended = once(adopted.socket, 'end');
    client.end();
    await ended;
    adopted.socket.end();
    await once(adopted.socket, 'close');
    // The server counts the connection as gone, so a draining close completes.
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reuses its read buffer while nothing holds the last chunk, and takes a fresh one when something does', async () => {
    const { client, adopted, close } = await connectedPair();
    let holding = false;
    const { chunks, copies } = collect(adopted.source, () => holding);
    const send = async (text: string): Promise<void> => {
      const before = chunks.length;
      client.write(text);
      await until(() => chunks.length > before);
    };
    await send('first');
    await send('second');
    assert.equal(chunks[0]?.buffer, chunks[1]?.buffer, 'not held: the same buffer is read into again');
    holding = true;
    await send('third');
    await send('fourth');
    assert.notEqual(chunks[2]?.buffer, chunks[3]?.buffer, 'held: the next read gets a new buffer');
    assert.equal(String(chunks[2]), 'third', 'a held chunk is not overwritten by the next read');
    assert.deepEqual(copies.map(String), ['first', 'second', 'third', 'fourth']);
    close();
  });

  it('alternates between two buffers while each chunk is released before the next read, as a relay towards TLS does', async () => {
    const { client, adopted, close } = await connectedPair();
    // Like a TLS write: the chunk is still held when the handler returns, and released a little later.
    const inFlight = new Set<Buffer>();
    const chunks: Buffer[] = [];
    const seen: Buffer[] = [];
    adopted.source.setHandler(
      (chunk) => {
        chunks.push(chunk);
        seen.push(Buffer.from(chunk));
        inFlight.add(chunk);
      },
      () => inFlight.size > 0,
    );
    for (const text of ['one', 'two', 'three', 'four', 'five']) {
      const before = chunks.length;
      client.write(text);
      await until(() => chunks.length > before);
      assert.equal(String(chunks.at(-1)), text, 'each read delivers its own bytes');
      inFlight.clear();
    }
    const buffers = chunks.map((c) => c.buffer);
    assert.equal(new Set(buffers).size, 2, 'two buffers, no allocation per read');
    assert.notEqual(buffers[0], buffers[1]);
    assert.deepEqual(buffers, [buffers[0], buffers[1], buffers[0], buffers[1], buffers[0]]);
    assert.deepEqual(seen.map(String), ['one', 'two', 'three', 'four', 'five']);
    close();
  });

  it('takes a fresh buffer when both of its buffers are still held, and never overwrites a held chunk', async () => {
    const { client, adopted, close } = await connectedPair();
    const held: Buffer[] = [];
    adopted.source.setHandler(
      (chunk) => held.push(chunk),
      () => held.length > 0,
    );
    const texts = ['alpha', 'bravo', 'charlie', 'delta'];
    for (const text of texts) {
      const before = held.length;
      client.write(text);
      await until(() => held.length > before);
    }
    assert.deepEqual(held.map(String), texts, 'every held chunk is intact');
    assert.equal(new Set(held.map((c) => c.buffer)).size, texts.length, 'each read while all are held went to a new buffer');
    close();
  });

  it('after the handler is cleared, reads are discarded and the connection stays usable', async () => {
    const { client, adopted, close } = await connectedPair();
    const { copies } = collect(adopted.source);
    client.write('kept');
    await until(() => copies.length === 1);
    adopted.source.clearHandler();
    client.write('dropped');
    await new Promise((r) => setTimeout(r, 30));
    const later = collect(adopted.source);
    client.write('again');
    await until(() => later.copies.length === 1);
    assert.deepEqual([...copies, ...later.copies].map(String), ['kept', 'again']);
    close();
  });

  it('falls back to data events for a socket without a native handle', () => {
    const detached = new Socket();
    const { socket, source } = adoptWithOwnBuffer(detached);
    assert.equal(socket, detached);
    const seen: string[] = [];
    source.setHandler((chunk) => seen.push(String(chunk)));
    socket.emit('data', Buffer.from('via events'));
    assert.deepEqual(seen, ['via events']);
    socket.destroy();
  });
});
