import { loadConfigFile, workerConfigSchema } from '../runtime/config.js';
import { createLogger } from '../runtime/log.js';
import { startWorker } from '../runtime/worker/worker.js';
import { onShutdown } from './shutdown.js';

/** `dynwork worker --config FILE`: what providers start on a worker machine. */
export async function runWorkerRole(file: string): Promise<void> {
  const config = loadConfigFile(workerConfigSchema, file);
  const logger = createLogger({ cluster: config.cluster }, { level: config.logLevel });
  const worker = startWorker(config, { logger });
  const stopped = onShutdown(() => worker.close(), logger);
  const { reason } = await Promise.race([worker.done, stopped.then(() => ({ reason: 'signal' as const }))]);
  logger.info('worker exiting', { reason });
}
