import type { Logger } from '../log.js';

/**
 * Resolves once the process was asked to stop and `close` finished. The first
 * SIGTERM/SIGINT drains; a second one, or `forceAfterMs`, exits at once.
 */
export function onShutdown(close: () => Promise<void>, logger: Logger, forceAfterMs = 30_000): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn('second signal; exiting now', { signal });
        process.exit(1);
      }
      stopping = true;
      logger.info('stopping', { signal });
      setTimeout(() => {
        logger.error('shutdown took too long; exiting', { forceAfterMs });
        process.exit(1);
      }, forceAfterMs).unref();
      close().then(resolve, (err: unknown) => {
        logger.error('shutdown failed', { err: err as Error });
        process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}
