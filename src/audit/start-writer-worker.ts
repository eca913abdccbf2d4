import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Predecessor } from './audit-store.js';

export interface WriterSettings {
  readonly path: string;
  readonly nodeId: string | null;
  readonly onReplaced: 'wait' | 'resume';
  readonly sync: 'normal' | 'full';
  /** A central store is configured: the writer lists what it writes for the shipper. */
  readonly ship: boolean;
  /** The node's private key (PEM), which signs the log and authenticates the journal; none: unsigned. */
  readonly signingKeyPem?: string;
  /** No database at the path, and the central store holds a log of this node: the one a new database replaces. */
  readonly central?: Predecessor;
}

/** Starts the writer thread. */
export function startWriterWorker(settings: WriterSettings): Worker {
  return startModuleWorker(new URL('./audit-writer-worker', import.meta.url), settings);
}

/**
 * Starts a worker thread from a module given without its extension. Built code runs the compiled
 * .js; under tsx (the tests) the thread registers tsx itself, because loader hooks of the main
 * thread do not reach workers on Node 20.
 */
export function startModuleWorker(module: URL, workerData: unknown): Worker {
  const extension = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`${module.href}${extension}`);
  if (extension === '.js') return new Worker(entry, { workerData });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}
