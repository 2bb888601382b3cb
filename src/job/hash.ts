import { hash as oneShot, createHash } from 'node:crypto';

/**
 * The job's result: lowercase hex SHA-512 of `data` (UTF-8), then
 * `iterations - 1` more SHA-512s of the previous 128-char hex string.
 */
export function iteratedSha512(data: string, iterations: number): string {
  let h = oneShot('sha512', data, 'hex');
  for (let i = 1; i < iterations; i++) h = oneShot('sha512', h, 'hex');
  return h;
}

/** The plain loop everyone writes first; kept as the benchmark's baseline. */
export function iteratedSha512Plain(data: string, iterations: number): string {
  let h = createHash('sha512').update(data, 'utf8').digest('hex');
  for (let i = 1; i < iterations; i++) h = createHash('sha512').update(h).digest('hex');
  return h;
}
