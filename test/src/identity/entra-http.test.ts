import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { simulatorTls } from '../../../src/dev/entra-sim/certificates.js';
import { EntraHttp, HttpError } from '../../../src/identity/entra-http.js';

/** The gateway's one HTTPS client to Entra and Graph: https only, the configured CA, a timeout, a bounded answer. */
describe('EntraHttp', () => {
  let server: Server;
  let base = '';
  let ca = '';
  before(async () => {
    const tls = await simulatorTls();
    ca = tls.caCert;
    server = createServer({ cert: tls.serverCert, key: tls.serverKey }, (req, res) => {
      if (req.url === '/huge') {
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        for (let i = 0; i < 100; i++) res.write(chunk); // 6.4 MB
        res.end();
      } else if (req.url === '/silent') {
        // never answers
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'x-two': ['a', 'b'] });
        res.end('{"ok":true}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base = `https://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('answers with status, headers and body when the CA is trusted, and refuses the server otherwise', async () => {
    const http = new EntraHttp({ ca, timeoutMs: 2000 });
    const r = await http.get(`${base}/ok`);
    assert.equal(r.status, 200);
    assert.equal(r.body, '{"ok":true}');
    assert.equal(r.headers['x-two'], 'a, b');
    http.close();
    const untrusting = new EntraHttp({ timeoutMs: 2000 });
    await assert.rejects(untrusting.get(`${base}/ok`), (e) => e instanceof HttpError && e.code === 'network');
    untrusting.close();
  });

  it('refuses plain http, an answer over 4 MiB, and a server that does not answer in time', async () => {
    const http = new EntraHttp({ ca, timeoutMs: 300 });
    await assert.rejects(http.get('http://127.0.0.1:9/keys'), /only https is used/);
    await assert.rejects(http.get(`${base}/huge`), (e) => e instanceof HttpError && e.code === 'too-large');
    await assert.rejects(http.get(`${base}/silent`), (e) => e instanceof HttpError && e.code === 'timeout');
    http.close();
  });
});
