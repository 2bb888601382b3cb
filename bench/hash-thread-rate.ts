/** One thread of bench/ceilings.ts: its steps per second on `path` with the lanes full, by wall clock. */
import { parentPort, workerData } from 'node:worker_threads';
import type { HashPath } from '../src/job/hash.js';
import { fullLanes } from './hash-paths.js';

const { path, seconds } = workerData as { path: HashPath; seconds: number };
parentPort!.postMessage(fullLanes(path, seconds, () => performance.now() / 1000));
