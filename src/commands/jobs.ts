import { connect, failover } from '../cluster/connect.js';
import { DynworkError } from '../errors.js';
import type { JobView } from '../protocol/index.js';
import { print, printJson } from './ui.js';

type Common = { cluster: string; json: boolean };

/** `dynwork job ID`: the job's whole story. */
export async function jobCommand(id: number, o: Common): Promise<void> {
  const c = connect(o.cluster);
  try {
    const job = await failover(c, (m) => m.getJob(id));
    if (o.json) printJson(job);
    else print(describeJob(job));
  } finally {
    await c.close();
  }
}

/** `dynwork jobs --state S`: oldest first, across the cluster. */
export async function jobsCommand(o: Common & { state: string; limit: number }): Promise<void> {
  const c = connect(o.cluster);
  try {
    const jobs = await failover(c, (m) => m.listJobs(o.state, { limit: o.limit }));
    if (o.json) printJson(jobs);
    else if (jobs.length === 0) print(`no ${o.state} jobs`);
    else print(jobTable(jobs));
  } finally {
    await c.close();
  }
}

/** `dynwork retry ID…|--failed` and `dynwork cancel ID…`: one line (or JSON object) per job. */
export async function jobActionCommand(action: 'retry' | 'cancel', ids: number[], o: Common & { failed?: boolean }): Promise<void> {
  if (action === 'retry' && o.failed && ids.length > 0) throw new DynworkError('usage', 'give job ids or --failed, not both');
  if (ids.length === 0 && !(action === 'retry' && o.failed)) {
    throw new DynworkError('usage', `no job to ${action}: give one or more job ids${action === 'retry' ? ' or --failed' : ''}`, {
      hint: action === 'retry' ? 'dynwork jobs --state failed lists them; dynwork retry --failed retries them all' : 'dynwork jobs --state queued lists them',
    });
  }
  const c = connect(o.cluster);
  try {
    if (o.failed) {
      const retried = await failover(c, (m) => m.retryFailed());
      if (o.json) printJson({ ids: retried });
      else print(retried.length === 0 ? 'no failed jobs' : retried.map((id) => `${id} queued`).join('\n'));
      return;
    }
    const done: JobView[] = [];
    for (const id of ids) {
      const job = await failover(c, (m) => (action === 'retry' ? m.retryJob(id) : m.cancelJob(id)));
      done.push(job);
      if (!o.json) print(`${job.id} ${job.status}`);
    }
    if (o.json) printJson(done);
  } finally {
    await c.close();
  }
}

const time = (t: string | null | undefined): string => t ?? '-';

export function describeJob(j: JobView): string {
  const lines = [`job ${j.id}: ${j.status}${j.manager === undefined ? '' : ` (manager ${j.manager})`}`];
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(11)} ${v}`);
  row('iterations', String(j.iterations));
  row('enqueued', j.enqueuedAt);
  if (j.lease) row('lease', `held by worker ${j.lease.workerId} until ${j.lease.expiresAt}`);
  if (j.completedAt) row('completed', j.completedAt);
  if (j.pulledAt) row('pulled', j.pulledAt);
  if (j.endedAt) row('ended', j.endedAt);
  if (j.error) row('error', j.error);
  row('attempts', String(j.attempts));
  for (const a of j.history ?? []) lines.push(`    ${String(a.attempt).padStart(3)}  worker ${a.workerId}  ${a.startedAt} → ${time(a.endedAt)}  ${a.outcome}`);
  if (j.result) row('result', j.result);
  return lines.join('\n');
}

export function jobTable(jobs: readonly JobView[]): string {
  const rows = jobs.map((j) => [String(j.id), j.status, String(j.iterations), String(j.attempts), j.enqueuedAt, j.lease ? `worker ${j.lease.workerId}` : (j.error ?? '')]);
  const head = ['ID', 'STATUS', 'ITERATIONS', 'ATTEMPTS', 'ENQUEUED', 'DETAIL'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
