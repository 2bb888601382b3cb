import { loadConfigFile } from '../runtime/config-file.js';
import { managerConfigSchema } from '../settings/manager.js';
import { createLogger, teeTo } from '../log.js';
import { LogRing } from '../runtime/log-ring.js';
import { startManager } from '../runtime/manager/server.js';
import { onShutdown } from './shutdown.js';

/** `dynwork manager --config FILE`: what providers start on a manager machine. */
export async function runManagerRole(file: string): Promise<void> {
  const config = loadConfigFile(managerConfigSchema, file);
  // Its own lines are also kept in memory, for GET /logs (no SSH needed to read them).
  const ring = new LogRing(5_000);
  const logger = createLogger({ cluster: config.cluster }, { level: config.logLevel, write: teeTo(ring) });
  let manager;
  try {
    manager = await startManager(config, { logger, logRing: ring });
  } catch (err) {
    // Also as a log record: deploy and operators read this log to learn why it stopped.
    logger.error('manager failed to start', { manager: config.index, err: err as Error });
    throw err;
  }
  await onShutdown(() => manager.close(), logger);
}
