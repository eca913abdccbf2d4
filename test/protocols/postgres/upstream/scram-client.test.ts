import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizedPassword, ScramClient, ScramError } from '../../../../protocols/postgres/upstream/scram-client.js';

// RFC 7677 section 3: the SCRAM-SHA-256 example exchange.
const RFC = {
  password: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

describe('ScramClient', () => {
  it('reproduces the RFC 7677 exchange', async () => {
    const scram = new ScramClient(RFC.password, RFC.clientNonce, 'user');
    assert.equal(scram.clientFirstMessage(), RFC.clientFirst);
    assert.equal(await scram.clientFinalMessage(RFC.serverFirst), RFC.clientFinal);
    scram.verifyServerFinal(RFC.serverFinal);
  });

  it('refuses a server that does not know the password', async () => {
    const scram = new ScramClient(RFC.password, RFC.clientNonce, 'user');
    await scram.clientFinalMessage(RFC.serverFirst);
    assert.throws(() => scram.verifyServerFinal('v=AAAAaaaaAAAAaaaaAAAAaaaaAAAAaaaaAAAAaaaaAAA='), ScramError);
  });

  it('refuses a server nonce that does not extend the client nonce, and malformed messages', async () => {
    const scram = new ScramClient(RFC.password, RFC.clientNonce, 'user');
    await assert.rejects(scram.clientFinalMessage('r=somethingElse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'), ScramError);
    await assert.rejects(scram.clientFinalMessage(`r=${RFC.clientNonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`), ScramError);
    await assert.rejects(scram.clientFinalMessage(`r=${RFC.clientNonce}x,i=4096`), ScramError);
    await assert.rejects(scram.clientFinalMessage(`r=${RFC.clientNonce}x,s=AA==,i=zero`), ScramError);
    assert.throws(() => new ScramClient('p').verifyServerFinal('v=xyz'), ScramError);
  });

  it('prepares the password as Postgres does: SASLprep, or the password as given when it is not a SASLprep string', () => {
    assert.equal(normalizedPassword('pass\u00adword'), 'password', 'a soft hyphen maps to nothing');
    assert.equal(normalizedPassword('pass\u00a0word'), 'pass word', 'a non-ASCII space maps to a space');
    assert.equal(normalizedPassword('\u2168'), 'IX', 'NFKC');
    assert.equal(normalizedPassword('a\u0007b'), 'a\u0007b', 'a prohibited character: the password as given');
  });

  it('derives the keys off the event loop: a million iterations do not block it', async () => {
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 5);
    const scram = new ScramClient('slow-password', RFC.clientNonce, 'user');
    const started = Date.now();
    await scram.clientFinalMessage(`r=${RFC.clientNonce}x,s=${Buffer.from(String(Math.random())).toString('base64')},i=1000000`);
    clearInterval(timer);
    const tookMs = Date.now() - started;
    // Synchronous, no timer could fire until it finished.
    assert.ok(ticks >= Math.floor(tookMs / 20), `${ticks} timer ticks in ${tookMs} ms`);
  });
});
