import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts the writer thread. Built code runs the compiled .js; under tsx (the tests) the thread
 * registers tsx itself, because loader hooks of the main thread do not reach workers on Node 20.
 */
export function startWriterWorker(path: string, nodeId: string | null, onReplaced: 'wait' | 'resume'): Worker {
  const extension = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./audit-writer-worker${extension}`, import.meta.url);
  if (extension === '.js') return new Worker(entry, { workerData: { path, nodeId, onReplaced } });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: { path, nodeId, onReplaced } });
}
