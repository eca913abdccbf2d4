import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts the writer thread. Built code runs the compiled .js; under tsx (the tests) the thread
 * registers tsx itself, because loader hooks of the main thread do not reach workers on Node 20.
 */
export interface WriterSettings {
  readonly path: string;
  readonly nodeId: string | null;
  readonly onReplaced: 'wait' | 'resume';
  readonly sync: 'normal' | 'full';
}

export function startWriterWorker(settings: WriterSettings): Worker {
  const extension = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./audit-writer-worker${extension}`, import.meta.url);
  if (extension === '.js') return new Worker(entry, { workerData: settings });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: settings });
}
