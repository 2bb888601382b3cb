import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DynworkError } from '../../errors.js';

/**
 * The job-id high-water mark, kept beside the queue but outside it: if the
 * queue file is lost, this still says which ids were handed out, so a new
 * queue never issues one again. Named so `rm queue.db*` does not take it too.
 */
export function idMarkFile(dbFile: string): string {
  return join(dirname(dbFile), `${basename(dbFile, '.db')}.ids.json`);
}

/** The file an operator creates to start an empty queue (ids continue past the mark) where one was lost. */
export function freshQueueFile(dbFile: string): string {
  return join(dirname(dbFile), `${basename(dbFile, '.db')}.start-fresh`);
}

/** The highest sequence number that may have been issued, or null when no mark was ever written. */
export function readIdMark(file: string): number | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DynworkError('store_error', `cannot read the job-id mark ${file}: ${(err as Error).message}`, { cause: err });
  }
  let seq: unknown;
  try {
    seq = (JSON.parse(text) as { issuedSeqUpTo?: unknown }).issuedSeqUpTo;
  } catch {
    seq = undefined;
  }
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) {
    throw new DynworkError('store_error', `the job-id mark ${file} is corrupt`, {
      hint: `write {"issuedSeqUpTo": N} into it with N at least the highest job id this manager issued divided by 1000`,
    });
  }
  return seq as number;
}

/**
 * Replaces the mark whole (temp file, fsync, rename, fsync of the directory),
 * so a crash leaves the old mark or the new one, never a torn one.
 */
export function writeIdMark(file: string, seq: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ issuedSeqUpTo: seq }) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const dir = openSync(dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new DynworkError('store_error', `cannot write the job-id mark ${file}: ${(err as Error).message}`, { cause: err });
  }
}
