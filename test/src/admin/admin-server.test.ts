import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { after, describe, it } from 'node:test';
import { AdminServer, ADMIN_LIMITS, type AdminLimits } from '../../../src/admin/admin-server.js';
import type { AdminBackend } from '../../../src/admin/admin-backend.js';
import type { AdminConfig } from '../../../src/config/gateway-config.js';
import { selfSignedCertificate } from '../../../src/dev/self-signed.js';
import { createLogger } from '../../../src/logging/logger.js';

const backend: AdminBackend = {
  metrics: () => Promise.resolve({ contentType: 'text/plain', text: '' }),
  readiness: () => Promise.resolve([]),
  sessions: () => Promise.resolve([]),
  terminate: () => Promise.resolve(false),
  approvals: () => Promise.resolve([]),
  decide: () => Promise.resolve(undefined),
};

const servers: AdminServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function start(limits: AdminLimits, tls?: AdminConfig['tls']): Promise<number> {
  const config: AdminConfig = { host: '127.0.0.1', port: 0, identityCensusMs: 0, ...(tls ? { tls } : {}) };
  const server = new AdminServer(config, backend, createLogger('silent'), limits);
  servers.push(server);
  return (await server.listen()).port;
}

/** How long the server took to close a connection that sent `bytes` and then nothing, and what it answered. */
async function closedAfter(socket: Socket, bytes: string): Promise<{ took: number; answer: string }> {
  const started = Date.now();
  let answer = '';
  socket.on('error', () => undefined);
  // Read: the server's end of the connection shows here only once what it sent before is read.
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  if (bytes !== '') socket.write(bytes);
  await once(socket, 'close');
  return { took: Date.now() - started, answer: answer.split('\r\n')[0] ?? '' };
}

function tcp(port: number): Promise<Socket> {
  const socket = connectTcp({ host: '127.0.0.1', port });
  return once(socket, 'connect').then(() => socket);
}

async function healthz(port: number): Promise<string> {
  const socket = await tcp(port);
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  return text.split('\r\n')[0] ?? '';
}

describe('the admin endpoint bounds what an unauthenticated caller holds', () => {
  it('documents 10 s for a whole request and 64 connections', () => {
    assert.deepEqual(ADMIN_LIMITS, { requestTimeoutMs: 10_000, maxConnections: 64 });
  });

  it('closes a connection whose request line, headers or body never finish, within the timeout', async () => {
    const port = await start({ requestTimeoutMs: 400, maxConnections: 64 });
    const terminate = `POST /sessions/${randomUUID()}/terminate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n`;
    const halves = ['', 'GET /metr', 'GET /metrics HTTP/1.1\r\nHost: localhost\r\n', `${terminate}Content-Length: 100\r\n\r\n{`];
    for (const half of halves) {
      const { took, answer } = await closedAfter(await tcp(port), half);
      // Node's connection checker runs every 100 ms here: allow it two passes and some scheduling.
      assert.ok(took >= 300 && took < 1500, `${JSON.stringify(half)} closed after ${took} ms`);
      assert.ok(answer === '' || answer.startsWith('HTTP/1.1 408'), `${JSON.stringify(half)} answered ${answer}`);
    }
  });

  it('ends the connection with its answer when it answers before a body has come whole', async () => {
    const port = await start({ requestTimeoutMs: 60_000, maxConnections: 64 });
    const refusedEarly = 'POST /sessions/not-an-id/terminate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{';
    const { took, answer } = await closedAfter(await tcp(port), refusedEarly);
    assert.equal(answer, 'HTTP/1.1 400 Bad Request');
    assert.ok(took < 1000, `closed after ${took} ms`);
  });

  it('closes a TLS connection that never finishes its handshake, within the timeout', async () => {
    const { cert, key } = await selfSignedCertificate();
    const port = await start({ requestTimeoutMs: 400, maxConnections: 64 }, { cert: Buffer.from(cert), key: Buffer.from(key) });
    const { took } = await closedAfter(await tcp(port), '\x16\x03\x01\x00');
    assert.ok(took >= 300 && took < 1500, `closed after ${took} ms`);
    const complete = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await once(complete, 'secureConnect');
    const idle = await closedAfter(complete, '');
    assert.ok(idle.took < 1500, `a handshaken connection that never sent a request closed after ${idle.took} ms`);
  });

  it('closes connections past the cap unanswered, and takes new ones once others have gone', async () => {
    const port = await start({ requestTimeoutMs: 60_000, maxConnections: 8 });
    const held = await Promise.all(Array.from({ length: 8 }, () => tcp(port)));
    for (const s of held) s.write('GET /'); // half-sent: each holds its slot
    await new Promise((r) => setTimeout(r, 100));
    const { took, answer } = await closedAfter(await tcp(port), '');
    assert.ok(took < 1000, `the ninth connection was closed after ${took} ms`);
    assert.equal(answer, '', 'closed unanswered');
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await healthz(port), 'HTTP/1.1 200 OK');
  });
});

describe('the admin endpoint with client certificates', () => {
  /** One HTTPS request on its own connection (resuming `session` if given): the status line and the session to resume. */
  async function ask(
    port: number,
    ca: string,
    options: { cert?: string; key?: string; session?: Buffer },
  ): Promise<{ status: string; session: Buffer | undefined; reused: boolean }> {
    const socket: TLSSocket = connectTls({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options });
    let session: Buffer | undefined;
    socket.on('session', (s: Buffer) => (session = s));
    await once(socket, 'secureConnect');
    const reused = socket.isSessionReused();
    socket.write('GET /sessions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    let text = '';
    for await (const chunk of socket) text += String(chunk);
    return { status: text.split('\r\n')[0] ?? '', session, reused };
  }

  it('admits a resumed TLS session only with a verified certificate: resuming one made without a certificate is still refused', async () => {
    const server = await selfSignedCertificate('localhost');
    const operator = await selfSignedCertificate('dba-alice');
    const port = await start(ADMIN_LIMITS, {
      cert: Buffer.from(server.cert),
      key: Buffer.from(server.key),
      clientCa: Buffer.from(operator.cert),
    });
    const anonymous = await ask(port, server.cert, {});
    assert.equal(anonymous.status, 'HTTP/1.1 401 Unauthorized');
    assert.ok(anonymous.session !== undefined, 'the server issued a session ticket');
    const resumed = await ask(port, server.cert, { session: anonymous.session });
    assert.ok(resumed.reused, 'the session was resumed (else this test proves nothing)');
    assert.equal(resumed.status, 'HTTP/1.1 401 Unauthorized', 'Node calls a resumed TLS 1.3 session without a certificate authorized');
    const alice = await ask(port, server.cert, { cert: operator.cert, key: operator.key });
    assert.equal(alice.status, 'HTTP/1.1 200 OK');
    const aliceAgain = await ask(port, server.cert, {
      cert: operator.cert,
      key: operator.key,
      ...(alice.session ? { session: alice.session } : {}),
    });
    assert.equal(aliceAgain.status, 'HTTP/1.1 200 OK');
  });
});

describe('approval decisions at the admin endpoint', () => {
  it('refuses a decision from an unauthenticated loopback caller, who could be the agent itself', async () => {
    const port = await start(ADMIN_LIMITS);
    const answer = await fetch(`http://127.0.0.1:${port}/approvals/0123456789ab/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'looks fine to me' }),
    });
    assert.equal(answer.status, 403);
    assert.equal(((await answer.json()) as { error: string }).error, 'approver-unauthenticated');
    assert.equal((await fetch(`http://127.0.0.1:${port}/approvals`)).status, 200, 'listing stays open to loopback, as /sessions is');
  });
});
