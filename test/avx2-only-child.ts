/**
 * Run by test/hash-paths.test.ts under qemu-x86_64 with a CPU model that has
 * AVX2 and no AVX-512: reads jobs (JSON) on stdin and prints the hash paths
 * this CPU is offered and the avx2 path's results for the jobs.
 */
import { readFileSync } from 'node:fs';
import { supportedPaths } from '../src/job/hash.js';
import { runAll } from './run-chains.js';

const jobs = JSON.parse(readFileSync(0, 'utf8')) as { data: string; iterations: number }[];
process.stdout.write(JSON.stringify({ supported: supportedPaths(), results: runAll('avx2', jobs) }) + '\n');
