import { generate } from 'selfsigned';

export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

/** A short-lived self-signed certificate for 127.0.0.1/localhost, for `idgate dev` and the tests. */
export async function selfSignedCertificate(commonName = 'localhost'): Promise<CertificatePair> {
  const result = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate: new Date(Date.now() + 30 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: result.cert, key: result.private };
}
