import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScramClient, ScramError } from '../../../../protocols/postgres/upstream/scram-client.js';

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
  it('reproduces the RFC 7677 exchange', () => {
    const scram = new ScramClient(RFC.password, RFC.clientNonce, 'user');
    assert.equal(scram.clientFirstMessage(), RFC.clientFirst);
    assert.equal(scram.clientFinalMessage(RFC.serverFirst), RFC.clientFinal);
    scram.verifyServerFinal(RFC.serverFinal);
  });

  it('refuses a server that does not know the password', () => {
    const scram = new ScramClient(RFC.password, RFC.clientNonce, 'user');
    scram.clientFinalMessage(RFC.serverFirst);
    assert.throws(() => scram.verifyServerFinal('v=AAAAaaaaAAAAaaaaAAAAaaaaAAAAaaaaAAAAaaaaAAA='), ScramError);
  });

  it('refuses a server nonce that does not extend the client nonce, and malformed messages', () => {
    const scram = new ScramClient(RFC.password, RFC.clientNonce, 'user');
    assert.throws(() => scram.clientFinalMessage('r=somethingElse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'), ScramError);
    assert.throws(() => scram.clientFinalMessage(`r=${RFC.clientNonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`), ScramError);
    assert.throws(() => scram.clientFinalMessage(`r=${RFC.clientNonce}x,i=4096`), ScramError);
    assert.throws(() => scram.clientFinalMessage(`r=${RFC.clientNonce}x,s=AA==,i=zero`), ScramError);
    assert.throws(() => new ScramClient('p').verifyServerFinal('v=xyz'), ScramError);
  });
});
