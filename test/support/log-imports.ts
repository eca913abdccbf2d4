/**
 * Preloaded into a CLI process a test starts (`NODE_OPTIONS=--import …`): writes each file the
 * process imports to stderr as `imported <url>`, so a test can see which modules a command loads.
 */
import { register } from 'node:module';

const hooks = `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (resolved.url.startsWith('file:')) process.stderr.write('imported ' + resolved.url + '\\n');
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
