import { IdgateError } from '../idgate-error.js';
/** A configuration problem, naming the file and the key so the operator can fix it. */
export class ConfigError extends IdgateError {
  override readonly name = 'ConfigError';
  override readonly code = 'config-invalid';
  constructor(
    readonly file: string,
    readonly problems: readonly { readonly key: string; readonly message: string }[],
  ) {
    super(problems.map((p) => `${file}: ${p.key === '' ? '(top level)' : p.key}: ${p.message}`).join('\n'));
  }
}
