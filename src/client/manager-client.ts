/**
 * One typed HTTP client for the manager API (src/protocol), used by the CLI,
 * the workers and the peer managers. Every answer is checked with the
 * protocol's schema: a wrong one is an ApiError `invalid_response` naming the
 * route and the field, never a TypeError later.
 *
 * - Keep-alive connections (one undici Agent per client), a timeout on every
 *   call (long-polls get their wait on top).
 * - Non-2xx → ApiError (status, apiCode, the manager's message); no answer →
 *   TransportError with code `unreachable` or `timeout`.
 * - Retries with exponential backoff and jitter (p-retry) only for idempotent
 *   calls: GET status/job/healthz, heartbeat, complete (results are
 *   idempotent by id), and acknowledging or releasing a pull receipt. Never
 *   enqueue, pullCompleted, pullLeased, peerReserve or lease.
 * - When a connection is refused and the endpoint has an `endpointFile`, the
 *   file is read again (the manager records there the port it really bound)
 *   and the call goes to the new address. A refused connection never reached
 *   the manager, so this is safe for every call, idempotent or not.
 *
 * - With a `pin` (the cluster CA and the manager's identity) the call goes
 *   over HTTPS and only to a server whose certificate the cluster CA issued
 *   to that very manager. The handshake comes before any byte of the request,
 *   so a squatter on the manager's port never sees a token; a refused
 *   certificate is a call that never left (the next manager may be tried).
 *
 * Never logs tokens, job data or results.
 */
import { readFileSync } from 'node:fs';
import pRetry from 'p-retry';
import { Agent, request } from 'undici';
import { z } from 'zod';
import { DynworkError } from '../errors.js';
import type { Endpoint } from '../settings/manager.js';
import { silentLogger, type Logger } from '../log.js';
import {
  batchCreated,
  batchPartStaged,
  completeResponse,
  dashboardPart,
  describeIssue,
  enqueued,
  errorBody,
  health,
  heartbeatResponse,
  idList,
  jobList,
  jobView,
  leaseResponse,
  logLines,
  managerStatus,
  peerReserved,
  pulledJobs,
  pullLeaseResponse,
  settled,
  shipLogsResponse,
  type CompleteRequest,
  type CompleteResponse,
  type DashboardPart,
  type Health,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type JobView,
  type LeaseRequest,
  type LeaseResponse,
  type ManagerStatus,
  type NewJob,
  type PulledJob,
  type ShipLogsRequest,
} from '../protocol/index.js';
import { checkManagerIdentity, type ManagerPin } from '../protocol/tls-identity.js';
import { VERSION } from '../version.js';
import { ApiError, TransportError } from './errors.js';

export { ApiError, TransportError } from './errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt (idempotent calls only). @default 2 */
  retries?: number;
  /** First delay; doubles each retry, randomised ×1–2. @default 100 */
  minTimeoutMs?: number;
  /** @default 2000 */
  maxTimeoutMs?: number;
}

export interface ManagerClientOptions {
  /** The manager: an Endpoint (with its endpointFile when known) or a base URL. */
  endpoint: Endpoint | string;
  /** Client token for the public API, worker token for /internal/*. */
  token: string;
  /** Timeout of each call, from sending to the whole body read. @default 10000 */
  timeoutMs?: number;
  logger?: Logger;
  /** Backoff for idempotent calls; `{ retries: 0 }` turns retries off. */
  retry?: RetryPolicy;
  /** Talk only to this manager of this cluster (HTTPS, its CA, its identity). Without it: plain trust, as the URL says. */
  pin?: ManagerPin;
}

export interface CallOptions {
  /** Aborts the call (and any retry wait); the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** The endpoint file a manager writes (where it really listens): a local file, not the wire. */
const endpointFileShape = z.object({ url: z.string().url() });

/** Connection errors that prove the request never reached a server. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
/** The server's certificate was refused: the handshake failed, so no byte of the request left. */
const NOT_PROVEN = new Set([
  'ERR_DYNWORK_WRONG_MANAGER',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** Statuses worth another try of an idempotent call. */
const TRANSIENT_STATUS = new Set([429, 502, 503, 504]);

interface Call<T> {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: string;
  schema: z.ZodType<T>;
  idempotent: boolean;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** Send no token (GET /healthz). */
  anonymous?: boolean;
  /** Statuses whose JSON body is an answer, not an error (healthz 503). */
  acceptStatus?: readonly number[];
}

export class ManagerClient {
  /** The manager's index when the endpoint names it. */
  readonly index: number | undefined;
  private base: string;
  private readonly endpointFile: string | undefined;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly retry: Required<RetryPolicy>;
  private readonly agent: Agent;
  private readonly pin: ManagerPin | undefined;
  /** Addresses where a server failed the identity check (logged once each). */
  private readonly impostors = new Set<string>();
  private closed = false;

  constructor(opts: ManagerClientOptions) {
    const ep = typeof opts.endpoint === 'string' ? { url: opts.endpoint } : opts.endpoint;
    this.index = 'index' in ep ? ep.index : undefined;
    this.pin = opts.pin;
    this.base = this.checkedBase(ep.url);
    this.endpointFile = 'endpointFile' in ep ? ep.endpointFile : undefined;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    if (!(this.timeoutMs > 0)) throw new DynworkError('usage', `timeoutMs must be positive, got ${this.timeoutMs}`);
    this.logger = (opts.logger ?? silentLogger).child({ component: 'manager-client', ...(this.index === undefined ? {} : { manager: this.index }) });
    this.retry = {
      retries: opts.retry?.retries ?? 2,
      minTimeoutMs: opts.retry?.minTimeoutMs ?? 100,
      maxTimeoutMs: opts.retry?.maxTimeoutMs ?? 2_000,
    };
    this.agent = new Agent({
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      connect: {
        // Well inside the call's timeout, so a server that takes the connection
        // but never finishes the handshake (a squatter) counts as "not
        // connected": nothing was sent, and the endpoint file is read again.
        timeout: Math.min(Math.ceil(this.timeoutMs / 2), 10_000),
        ...(this.pin ? { ca: this.pin.ca, checkServerIdentity: checkManagerIdentity(this.pin.identity) } : {}),
      },
    });
    // The endpoint file, when there is one, is where the manager really is now
    // (its configured port may belong to another cluster's manager).
    this.moved();
  }

  /** The base URL calls go to now (it changes when the endpoint file says the manager moved). */
  get url(): string {
    return this.base;
  }

  /** Same as `url`. */
  get baseUrl(): string {
    return this.base;
  }

  // --- Public API (client token) ---

  /** PUT /enqueue?iterations=N with a JSON body → the job id. Never retried. */
  async enqueue(data: string, iterations: number): Promise<number> {
    const r = await this.call({
      method: 'PUT',
      path: `/enqueue?iterations=${encodeURIComponent(String(iterations))}`,
      body: JSON.stringify({ data }),
      schema: enqueued,
      idempotent: false,
    });
    return r.id;
  }

  /** PUT /enqueue with a JSON array → the ids, in order (all or nothing). Never retried. */
  async enqueueBatch(jobs: readonly NewJob[]): Promise<number[]> {
    const r = await this.call({
      method: 'PUT',
      path: '/enqueue',
      body: JSON.stringify(jobs.map((j) => ({ data: j.data, iterations: j.iterations }))),
      schema: idList,
      idempotent: false,
    });
    if (r.ids.length !== jobs.length) {
      throw new ApiError(200, 'invalid_response', `manager answered ${r.ids.length} ids for ${jobs.length} jobs`);
    }
    return r.ids;
  }

  // --- Staged batch upload (POST/PUT /enqueue/batches…): all or nothing at any size ---

  /** POST /enqueue/batches → a new batch id. Not retried: a lost answer only leaves an empty batch the manager drops. */
  async createBatch(): Promise<string> {
    const r = await this.call({ method: 'POST', path: '/enqueue/batches', schema: batchCreated, idempotent: false });
    return r.batch;
  }

  /** PUT /enqueue/batches/:batch/:part. A part sent again replaces the first copy, so this is retried. */
  async putBatchPart(batch: string, part: number, jobs: readonly NewJob[]): Promise<void> {
    const r = await this.call({
      method: 'PUT',
      path: `/enqueue/batches/${encodeURIComponent(batch)}/${part}`,
      body: JSON.stringify(jobs.map((j) => ({ data: j.data, iterations: j.iterations }))),
      schema: batchPartStaged,
      idempotent: true,
    });
    if (r.count !== jobs.length) throw new ApiError(200, 'invalid_response', `manager staged ${r.count} of ${jobs.length} jobs of part ${part}`);
  }

  /** POST /enqueue/batches/:batch/commit → every id, in order. A repeated commit answers the same ids, so this is retried. */
  async commitBatch(batch: string, parts: number, expected: number): Promise<number[]> {
    const r = await this.call({
      method: 'POST',
      path: `/enqueue/batches/${encodeURIComponent(batch)}/commit`,
      body: JSON.stringify({ parts }),
      schema: idList,
      idempotent: true,
    });
    if (r.ids.length !== expected) throw new ApiError(200, 'invalid_response', `manager committed ${r.ids.length} ids for ${expected} jobs`);
    return r.ids;
  }

  /**
   * POST /pullCompleted?top=N[&waitMs=W][&local=1]. With `waitMs`, an empty
   * answer waits up to that long for results to arrive (the timeout grows by as
   * much); with `local`, only this manager's results (for clients that poll
   * every manager).
   * Never retried: a result handed out is gone from the queue.
   */
  pullCompleted(top: number, opts: { waitMs?: number; local?: boolean } & CallOptions = {}): Promise<PulledJob[]> {
    const wait = (opts.waitMs ? `&waitMs=${encodeURIComponent(String(opts.waitMs))}` : '') + (opts.local ? '&local=1' : '');
    return this.call({
      method: 'POST',
      path: `/pullCompleted?top=${encodeURIComponent(String(top))}${wait}`,
      schema: pulledJobs,
      idempotent: false,
      timeoutMs: this.timeoutMs + Math.max(0, opts.waitMs ?? 0),
      signal: opts.signal,
    });
  }

  /**
   * POST /pullCompleted/lease: up to `top` results held for the caller under a
   * receipt for `leaseMs`. They are pulled only once `ackPulled(receipt)`
   * confirms them; released or run out, they are "completed" again. Never
   * retried (an unanswered call's results return when the lease runs out).
   */
  pullLeased(top: number, opts: { leaseMs: number; waitMs?: number; local?: boolean } & CallOptions): Promise<{ receipt: string | null; leaseMs: number; results: PulledJob[] }> {
    const q = new URLSearchParams({ top: String(top), leaseMs: String(opts.leaseMs) });
    if (opts.waitMs) q.set('waitMs', String(opts.waitMs));
    if (opts.local) q.set('local', '1');
    return this.call({
      method: 'POST',
      path: `/pullCompleted/lease?${q.toString()}`,
      schema: pullLeaseResponse,
      idempotent: false,
      timeoutMs: this.timeoutMs + Math.max(0, opts.waitMs ?? 0),
      signal: opts.signal,
    });
  }

  /** Confirms the results of a receipt (any manager routes it): how many were still held. Idempotent, so retried. */
  async ackPulled(receipt: string, opts: CallOptions = {}): Promise<number> {
    const r = await this.call({ method: 'POST', path: '/pullCompleted/ack', body: JSON.stringify({ receipt }), schema: settled, idempotent: true, signal: opts.signal });
    return r.count;
  }

  /** Gives a receipt's results back at once (they are "completed" again). Idempotent, so retried. */
  async releasePulled(receipt: string, opts: CallOptions = {}): Promise<number> {
    const r = await this.call({ method: 'POST', path: '/pullCompleted/release', body: JSON.stringify({ receipt }), schema: settled, idempotent: true, signal: opts.signal });
    return r.count;
  }

  /** GET /jobs/:id. A 404 is an ApiError with status 404. */
  getJob(id: number, opts: CallOptions = {}): Promise<JobView> {
    return this.call({ method: 'GET', path: `/jobs/${encodeURIComponent(String(id))}`, schema: jobView, idempotent: true, signal: opts.signal });
  }

  /** GET /jobs?state=S&limit=N[&local=1]: oldest first, the whole cluster's unless `local`. */
  async listJobs(state: string, opts: { limit?: number; local?: boolean } & CallOptions = {}): Promise<JobView[]> {
    const q = new URLSearchParams({ state, limit: String(opts.limit ?? 100) });
    if (opts.local) q.set('local', '1');
    const r = await this.call({ method: 'GET', path: `/jobs?${q.toString()}`, schema: jobList, idempotent: true, signal: opts.signal });
    return r.jobs;
  }

  /** POST /jobs/:id/cancel (queued or running jobs). 404 and 409 (already finished) are ApiErrors. Idempotent, so retried. */
  cancelJob(id: number, opts: CallOptions = {}): Promise<JobView> {
    return this.jobAction(id, 'cancel', opts);
  }

  /** POST /jobs/:id/retry (failed or cancelled jobs). 404 and 409 are ApiErrors. Never retried: a lost answer's retry may have run. */
  retryJob(id: number, opts: CallOptions = {}): Promise<JobView> {
    return this.jobAction(id, 'retry', opts);
  }

  /** POST /jobs/retry?state=failed: every failed job queued again; their ids. */
  async retryFailed(opts: { local?: boolean } & CallOptions = {}): Promise<number[]> {
    const r = await this.call({ method: 'POST', path: `/jobs/retry?state=failed${opts.local ? '&local=1' : ''}`, schema: idList, idempotent: false, signal: opts.signal });
    return r.ids;
  }

  private jobAction(id: number, action: 'cancel' | 'retry', opts: CallOptions): Promise<JobView> {
    return this.call({
      method: 'POST',
      path: `/jobs/${encodeURIComponent(String(id))}/${action}`,
      schema: jobView,
      idempotent: action === 'cancel',
      signal: opts.signal,
    });
  }

  /** GET /dashboard/data?local=1: this manager's status and history (peers merge them). */
  dashboardPart(opts: CallOptions = {}): Promise<DashboardPart> {
    return this.call({ method: 'GET', path: '/dashboard/data?local=1', schema: dashboardPart, idempotent: true, signal: opts.signal });
  }

  /** GET /logs: recent log lines (JSON text, one record each) of the cluster's processes, or this manager's own and its workers' with `local`. */
  async logs(opts: { local?: boolean } & CallOptions = {}): Promise<string[]> {
    const r = await this.call({ method: 'GET', path: `/logs${opts.local ? '?local=1' : ''}`, schema: logLines, idempotent: true, signal: opts.signal });
    return r.lines;
  }

  /** POST /internal/logs: a worker's new log lines. Retried only by the caller (a doubled batch is two copies of lines, not harm). */
  async shipLogs(body: ShipLogsRequest): Promise<void> {
    await this.call({ method: 'POST', path: '/internal/logs', body: JSON.stringify(body), schema: shipLogsResponse, idempotent: false });
  }

  status(opts: CallOptions = {}): Promise<ManagerStatus> {
    return this.call({ method: 'GET', path: '/status', schema: managerStatus, idempotent: true, signal: opts.signal });
  }

  /** GET /healthz (no token). A 503 with a health body is an answer (`ok: false`), not an error. */
  healthz(opts: CallOptions = {}): Promise<Health> {
    return this.call({
      method: 'GET',
      path: '/healthz',
      schema: health,
      idempotent: true,
      anonymous: true,
      acceptStatus: [503],
      signal: opts.signal,
    });
  }

  // --- Internal API (worker token) ---

  /** Long-poll for jobs: the timeout is `waitMs` + timeoutMs. Never retried (a lost answer would strand leased jobs until they expire). */
  lease(req: LeaseRequest, opts: CallOptions = {}): Promise<LeaseResponse> {
    return this.call({
      method: 'POST',
      path: '/internal/lease',
      body: JSON.stringify(req),
      schema: leaseResponse,
      idempotent: false,
      timeoutMs: this.timeoutMs + Math.max(0, req.waitMs ?? 0),
      signal: opts.signal,
    });
  }

  /** Results are idempotent by id (the first completion wins), so this is retried. */
  complete(req: CompleteRequest, opts: CallOptions = {}): Promise<CompleteResponse> {
    return this.call({ method: 'POST', path: '/internal/complete', body: JSON.stringify(req), schema: completeResponse, idempotent: true, signal: opts.signal });
  }

  heartbeat(req: HeartbeatRequest, opts: CallOptions = {}): Promise<HeartbeatResponse> {
    return this.call({ method: 'POST', path: '/internal/heartbeat', body: JSON.stringify(req), schema: heartbeatResponse, idempotent: true, signal: opts.signal });
  }

  /**
   * POST /internal/reserve?top=N&leaseMs=M: this manager's own results under a
   * receipt token. Never retried (a lost answer's results wait out the lease).
   */
  peerReserve(top: number, leaseMs: number): Promise<{ token: string; results: PulledJob[] }> {
    return this.call({
      method: 'POST',
      path: `/internal/reserve?top=${encodeURIComponent(String(top))}&leaseMs=${encodeURIComponent(String(leaseMs))}`,
      schema: peerReserved,
      idempotent: false,
    });
  }

  /** POST /internal/ack or /internal/release of a receipt token: idempotent, so retried. */
  async peerSettle(token: string, how: 'ack' | 'release'): Promise<number> {
    const r = await this.call({ method: 'POST', path: `/internal/${how}`, body: JSON.stringify({ token }), schema: settled, idempotent: true });
    return r.count;
  }

  /** Closes the connections: in-flight calls get a short grace, then are cut. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), 1_000);
      timer.unref();
    });
    try {
      if ((await Promise.race([this.agent.close().then(() => 'closed' as const), grace])) === 'late') await this.agent.destroy();
    } finally {
      clearTimeout(timer);
    }
  }

  // --- Plumbing ---

  private async call<T>(c: Call<T>): Promise<T> {
    if (this.closed) throw new DynworkError('internal', 'manager client used after close()');
    if (!c.idempotent || this.retry.retries === 0) return this.attempt(c, false);
    return pRetry(() => this.attempt(c, false), {
      retries: this.retry.retries,
      factor: 2,
      minTimeout: this.retry.minTimeoutMs,
      maxTimeout: this.retry.maxTimeoutMs,
      randomize: true,
      signal: c.signal,
      shouldRetry: ({ error }) => !this.closed && isTransient(error),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0 && isTransient(error)) {
          this.logger.debug('call failed; retrying', { call: label(c), attempt: attemptNumber, code: codeOf(error) });
        }
      },
    });
  }

  private async attempt<T>(c: Call<T>, afterMove: boolean): Promise<T> {
    const timeoutMs = c.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = c.signal ? AbortSignal.any([timeout, c.signal]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': `dynwork/${VERSION}` };
    if (!c.anonymous) headers.authorization = `Bearer ${this.token}`;
    if (c.body !== undefined) headers['content-type'] = 'application/json';
    const base = this.base;
    let status: number;
    let text: string;
    try {
      const res = await request(base + c.path, {
        dispatcher: this.agent,
        method: c.method,
        headers,
        ...(c.body === undefined ? {} : { body: c.body }),
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      if (c.signal?.aborted) throw c.signal.reason ?? err;
      const code = codeOf(err);
      if (timeout.aborted || TIMEOUT_CODES.has(code ?? '')) {
        throw new TransportError('timeout', `${label(c)} to ${base} timed out after ${timeoutMs} ms`, true, {
          cause: err,
          hint: 'the manager is overloaded or the network is slow; try again, or check with: dynwork status',
        });
      }
      const notProven = NOT_PROVEN.has(code ?? '');
      // Something else holds the manager's address: worth saying once per address, even when the manager is found elsewhere.
      if (notProven && !this.impostors.has(base)) {
        this.impostors.add(base);
        this.logger.warn("the server at the manager's address did not prove it is the manager; nothing was sent to it", { url: base, code });
      }
      const connected = !NOT_CONNECTED.has(code ?? '') && !notProven;
      if (!connected && !afterMove && this.moved()) return this.attempt(c, true);
      if (notProven) {
        throw new TransportError('unreachable', `the server at ${base} is not ${this.pin?.identity ?? 'a manager'} (${(err as Error).message}); nothing was sent to it`, false, {
          cause: err,
          hint: "another program may hold the manager's port; check with: dynwork status, and bring the manager back with: dynwork deploy",
        });
      }
      throw new TransportError('unreachable', `cannot reach the manager at ${base} (${code ?? (err as Error).message})`, connected, {
        cause: err,
        hint: 'is the manager running? check with: dynwork status',
      });
    }
    if ((status >= 200 && status < 300) || c.acceptStatus?.includes(status)) {
      const json = parseJson(text);
      const parsed = c.schema.safeParse(json);
      if (parsed.success) return parsed.data;
      if (status >= 200 && status < 300) {
        const what = json === undefined ? 'the answer is not JSON' : describeIssue(parsed.error, 'the answer');
        throw new ApiError(status, 'invalid_response', `unexpected answer from the manager to ${label(c)}: ${what}`);
      }
    }
    // A 401 from the configured address may be another cluster's manager on the port ours wanted.
    if (status === 401 && !afterMove && this.moved()) return this.attempt(c, true);
    const e = errorBody.safeParse(parseJson(text));
    const apiCode = e.success ? e.data.error.code : `http_${status}`;
    const message = e.success ? e.data.error.message : `the manager answered HTTP ${status} to ${label(c)}`;
    throw new ApiError(status, apiCode, message, { ...(hintFor(status) ? { hint: hintFor(status) } : {}) });
  }

  /** Re-reads the endpoint file; true when it names another address (now in use). */
  private moved(): boolean {
    if (!this.endpointFile) return false;
    let url: string;
    try {
      const parsed = endpointFileShape.safeParse(JSON.parse(readFileSync(this.endpointFile, 'utf8')));
      if (!parsed.success) return false;
      url = this.checkedBase(parsed.data.url);
    } catch {
      return false;
    }
    if (url === this.base) return false;
    this.logger.info('manager moved; using the address from its endpoint file', { from: this.base, to: url });
    this.base = url;
    return true;
  }

  /** A pinned client never speaks plain HTTP: its token would go to whoever answers. */
  private checkedBase(url: string): string {
    const base = normalizeBase(url);
    if (this.pin && !base.startsWith('https:')) {
      throw new DynworkError('config_invalid', `manager URL ${base} is not https, but this cluster's managers prove their identity over TLS`, {
        hint: "run dynwork deploy again to record the managers' https URLs",
      });
    }
    return base;
  }
}

function normalizeBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DynworkError('config_invalid', `not a manager URL: ${JSON.stringify(url)}`, { hint: 'use a URL like http://127.0.0.1:5000' });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new DynworkError('config_invalid', `manager URL must be http(s): ${u.protocol}`, { hint: 'use a URL like http://127.0.0.1:5000' });
  }
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function label(c: { method: string; path: string }): string {
  return `${c.method} ${c.path.split('?')[0]}`;
}

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown }; errors?: { code?: unknown }[] } | null;
  for (const c of [e?.code, e?.cause?.code, e?.errors?.[0]?.code]) if (typeof c === 'string') return c;
  return undefined;
}

function isTransient(err: unknown): boolean {
  if (err instanceof TransportError) return true;
  return err instanceof ApiError && TRANSIENT_STATUS.has(err.status);
}

function hintFor(status: number): string | undefined {
  if (status === 401) return 'check the token: dynwork token prints the client token';
  if (status === 403) return 'this token may not call this route (client vs worker token)';
  return undefined;
}
