import { err } from './output.js';
/**
 * Waits for SIGTERM or SIGINT, then runs `stop` once; a second signal exits at once. `otherTrigger`
 * may start the same stop another way (a worker told by its primary): that never counts as the
 * second signal, so a Ctrl-C that reaches both the primary and its workers still drains them.
 */
export function runUntilSignal(stop: () => Promise<void>, otherTrigger?: (begin: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let stopping = false;
    const begin = (): void => {
      if (stopping) return;
      stopping = true;
      stop().then(() => {
        process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
        resolve();
      }, reject);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        err(`${signal} again: exiting now\n`);
        process.exit(1);
      }
      begin();
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
    otherTrigger?.(begin);
  });
}
