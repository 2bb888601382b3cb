import { loadConfigFile } from '../runtime/config-file.js';
import { workerConfigSchema } from '../settings/worker.js';
import { createLogger, teeTo } from '../log.js';
import { LogRing } from '../runtime/log-ring.js';
import { shipLogs } from '../runtime/worker/log-shipper.js';
import { startWorker } from '../runtime/worker/worker.js';
import { onShutdown } from './shutdown.js';

/** `dynwork worker --config FILE`: what providers start on a worker machine. */
export async function runWorkerRole(file: string): Promise<void> {
  const config = loadConfigFile(workerConfigSchema, file);
  // Its lines also go to a manager (see log-shipper), so `dynwork logs` reads them without SSH.
  const ring = new LogRing(5_000);
  const logger = createLogger({ cluster: config.cluster }, { level: config.logLevel, write: teeTo(ring) });
  const worker = startWorker(config, { logger });
  const shipper = shipLogs(config, ring, worker.workerId);
  const stopped = onShutdown(() => worker.close(), logger);
  const { reason } = await Promise.race([worker.done, stopped.then(() => ({ reason: 'signal' as const }))]);
  logger.info('worker exiting', { reason });
  await shipper.close();
}
