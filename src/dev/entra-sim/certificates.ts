import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

export interface SimulatorTls {
  /** The simulator's own CA (PEM): what a client must trust to talk to it. */
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

export interface ClientCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 thumbprint, hex, as Entra and msal-node name a certificate credential. */
  readonly thumbprintSha256: string;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * A private CA and a server certificate it signed for 127.0.0.1/localhost, so the simulator is
 * reached over HTTPS the way Entra is, and a client trusts it only by being given this CA.
 */
export async function simulatorTls(): Promise<SimulatorTls> {
  const ca = await generate([{ name: 'commonName', value: 'idgate Entra simulator CA' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 30 * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 30 * DAY_MS),
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { caCert: ca.cert, serverCert: server.cert, serverKey: server.private };
}

/** A self-signed RSA certificate an application registers as its credential (client assertion). */
export async function clientCertificate(commonName: string): Promise<ClientCertificate> {
  const pair = await generate([{ name: 'commonName', value: commonName }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 30 * DAY_MS),
  });
  return { certPem: pair.cert, keyPem: pair.private, thumbprintSha256: thumbprintSha256(pair.cert) };
}

export function thumbprintSha256(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
}
