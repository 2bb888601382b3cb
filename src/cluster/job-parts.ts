import type { NewJob } from '../protocol/index.js';

/** Jobs for one request, and where the first one stands in the whole input (0-based). */
export interface JobPart {
  start: number;
  jobs: NewJob[];
}

/**
 * Groups jobs into parts of at most `maxJobs` and, past the first job, about
 * `maxBytes` of JSON, so each part is one request the manager accepts. Only
 * one part is held at a time.
 */
export async function* toParts(jobs: AsyncIterable<NewJob>, maxJobs: number, maxBytes: number): AsyncGenerator<JobPart> {
  let part: NewJob[] = [];
  let bytes = 2;
  let start = 0;
  let index = 0;
  for await (const job of jobs) {
    const size = Buffer.byteLength(JSON.stringify(job.data)) + 32;
    if (part.length > 0 && (part.length >= maxJobs || bytes + size > maxBytes)) {
      yield { start, jobs: part };
      part = [];
      bytes = 2;
      start = index;
    }
    part.push(job);
    bytes += size;
    index++;
  }
  if (part.length > 0) yield { start, jobs: part };
}
