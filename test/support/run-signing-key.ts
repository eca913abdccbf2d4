import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportPKCS8, generateKeyPair } from 'jose';
import type { SimulatorOptions } from '../../src/dev/entra-simulator.js';
import { RUN_DIR } from './run-dir.js';

let made: Promise<SimulatorOptions> | undefined;

/**
 * An Entra simulator's options with the test run's signing key (PKCS#8 PEM): made by the first file
 * that asks, read by the others, since a 2048-bit RSA key costs about 0.2 s of CPU and a run starts
 * ~60 simulators. Outside run-tests (a file run by hand) no key is given: the simulator makes its own.
 */
export function simulatorOptionsForRun(): Promise<SimulatorOptions> {
  made ??=
    RUN_DIR === undefined
      ? Promise.resolve({})
      : readOrMake(join(RUN_DIR, 'entra-signing-key.pem')).then((signingKeyPem) => ({ signingKeyPem }));
  return made;
}

async function readOrMake(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const pem = await exportPKCS8(privateKey);
  // Written whole, then renamed: a file that reads it at the same time sees all of it or none.
  const partial = `${file}.${process.pid}`;
  await writeFile(partial, pem, { mode: 0o600 });
  await rename(partial, file);
  return pem;
}
