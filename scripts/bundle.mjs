#!/usr/bin/env node
// Bundles what tsc compiled for bin/idgate, into dist/bundle/: from dist/ (`tsc -p tsconfig.build.json`,
// `npm run build`), or from the directory given as the argument (`npm test` bundles what it compiled
// into .build/ with the tests, the same compiler options, rather than compile the product twice).
// Node's ESM loader resolves, reads and links each of the ~1,000 modules of the product and its
// libraries one by one, which took most of a command's start (`idgate sessions` 0.57 s of CPU,
// `idgate serve` 0.93, `idgate --help` 1.1; 0.39, 0.6 and 0.6 bundled, on the 2-core box). The
// commands stay loaded lazily: each is a chunk of its own (splitting), loaded when it runs.
//
// The worker threads are entry points of their own (scripts/bundle-options.mjs).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, workerEntries } from './bundle-options.mjs';

const compiled = process.argv[2] ?? 'dist';
const outdir = 'dist/bundle';
// Chunk names carry a hash of their content: without emptying the directory, every build would leave
// the chunks of the one before in it, and in the package.
rmSync(outdir, { recursive: true, force: true });
await build({
  ...BUNDLE_OPTIONS,
  entryPoints: { idgate: join(compiled, 'src/main.js'), ...workerEntries(compiled) },
  outdir,
  // With NODE_OPTIONS=--enable-source-maps, stack traces in the log name the TypeScript sources (the
  // maps hold them, through the compiled files' own maps); off by default, so no start pays for reading them.
  sourcemap: true,
});
