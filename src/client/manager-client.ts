import { readFileSync } from 'node:fs';
import pRetry, { AbortError } from 'p-retry';
import { Agent } from 'undici';
import { DynworkError } from '../errors.js';
import type { Endpoint } from '../runtime/config.js';
import type {
  CompleteRequest,
  CompleteResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  JobView,
  LeaseRequest,
  LeaseResponse,
  ManagerStatus,
  NewJob,
  PulledJob,
} from '../runtime/protocol.js';

/** A non-2xx answer from a manager, with its status and the API's error code. */
export class ApiError extends DynworkError {
  readonly status: number;
  readonly apiCode: string;

  constructor(status: number, apiCode: string, message: string) {
    super('http_error', `${message} (HTTP ${status} ${apiCode})`);
    this.status = status;
    this.apiCode = apiCode;
  }
}

export interface ManagerClientOptions {
  endpoint: Endpoint | string;
  token: string;
  /** Timeout of each call (a long-poll gets its wait on top). @default 10000 */
  timeoutMs?: number;
  /** Attempts for idempotent calls. @default 3 */
  retries?: number;
}

interface Call {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  body?: unknown;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Safe to repeat: retried with backoff on network errors and 5xx. */
  idempotent?: boolean;
  /** Return the body of these statuses instead of throwing. */
  accept?: number[];
}

/**
 * The one typed client of the manager API, used by the CLI, workers and peer
 * managers. Keep-alive connections; every call has a timeout; only idempotent
 * calls are retried (exponential backoff with jitter).
 */
export class ManagerClient {
  private url: string;
  private readonly endpointFile: string | undefined;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly agent: Agent;

  constructor(opts: ManagerClientOptions) {
    const ep = typeof opts.endpoint === 'string' ? { url: opts.endpoint } : opts.endpoint;
    this.url = ep.url.replace(/\/+$/, '');
    this.endpointFile = 'endpointFile' in ep ? ep.endpointFile : undefined;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retries = opts.retries ?? 3;
    this.agent = new Agent({ keepAliveTimeout: 4_000, connections: 16 });
  }

  /** Where calls go now (it follows the manager's endpoint file when the manager moved). */
  get baseUrl(): string {
    return this.url;
  }

  async enqueue(data: string, iterations: number): Promise<number> {
    const r = await this.call<{ id: number }>({ method: 'PUT', path: `/enqueue?iterations=${iterations}`, body: { data } });
    return r.id;
  }

  async enqueueBatch(jobs: readonly NewJob[]): Promise<number[]> {
    const r = await this.call<{ ids: number[] }>({ method: 'PUT', path: '/enqueue', body: jobs });
    return r.ids;
  }

  pullCompleted(top: number): Promise<PulledJob[]> {
    return this.call({ method: 'POST', path: `/pullCompleted?top=${top}` });
  }

  getJob(id: number): Promise<JobView> {
    return this.call({ method: 'GET', path: `/jobs/${id}`, idempotent: true });
  }

  status(): Promise<ManagerStatus> {
    return this.call({ method: 'GET', path: '/status', idempotent: true });
  }

  healthz(): Promise<{ ok: boolean; index?: number; leader?: boolean }> {
    return this.call({ method: 'GET', path: '/healthz', accept: [503] });
  }

  lease(req: LeaseRequest, opts: { signal?: AbortSignal } = {}): Promise<LeaseResponse> {
    return this.call({
      method: 'POST',
      path: '/internal/lease',
      body: req,
      timeoutMs: this.timeoutMs + (req.waitMs ?? 0),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  complete(req: CompleteRequest): Promise<CompleteResponse> {
    return this.call({ method: 'POST', path: '/internal/complete', body: req, idempotent: true });
  }

  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.call({ method: 'POST', path: '/internal/heartbeat', body: req, idempotent: true });
  }

  /** A peer's own completed results (no fan-out). Not retried: results handed out are gone. */
  peerPull(top: number): Promise<PulledJob[]> {
    return this.call({ method: 'POST', path: `/internal/pull?top=${top}` });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private call<T>(c: Call): Promise<T> {
    if (!c.idempotent) return this.once<T>(c);
    return pRetry(
      async () => {
        try {
          return await this.once<T>(c);
        } catch (err) {
          // 4xx will not change by asking again.
          if (err instanceof ApiError && err.status < 500) throw new AbortError(err);
          throw err;
        }
      },
      { retries: this.retries - 1, minTimeout: 100, maxTimeout: 2_000, factor: 2, randomize: true },
    );
  }

  private async once<T>(c: Call): Promise<T> {
    try {
      return await this.send<T>(c);
    } catch (err) {
      // The manager may have moved to another port: look where it says it is now.
      if (err instanceof DynworkError && err.code === 'unreachable' && this.refreshUrl()) return this.send<T>(c);
      throw err;
    }
  }

  private async send<T>(c: Call): Promise<T> {
    const timeoutMs = c.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = c.signal ? AbortSignal.any([timeout, c.signal]) : timeout;
    const origin = new URL(this.url);
    let status: number;
    let text: string;
    try {
      const res = await this.agent.request({
        origin: origin.origin,
        path: origin.pathname.replace(/\/$/, '') + c.path,
        method: c.method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(c.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(c.body === undefined ? {} : { body: JSON.stringify(c.body) }),
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      if (c.signal?.aborted) throw new DynworkError('unreachable', `${c.method} ${c.path} cancelled`, { cause: err });
      if (timeout.aborted || isTimeout(err)) {
        throw new DynworkError('timeout', `${this.url} did not answer ${c.method} ${pathOnly(c.path)} within ${timeoutMs} ms`, { cause: err });
      }
      throw new DynworkError('unreachable', `cannot reach ${this.url}: ${(err as Error).message}`, { cause: err });
    }
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if ((status >= 200 && status < 300) || c.accept?.includes(status)) return json as T;
    const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(status, e?.code ?? 'http_error', e?.message ?? `${c.method} ${pathOnly(c.path)} failed`);
  }

  private refreshUrl(): boolean {
    if (!this.endpointFile) return false;
    try {
      const e = JSON.parse(readFileSync(this.endpointFile, 'utf8')) as { url?: unknown };
      if (typeof e.url === 'string' && e.url !== this.url) {
        this.url = e.url.replace(/\/+$/, '');
        return true;
      }
    } catch {
      // no file (yet): nothing better to try
    }
    return false;
  }
}

function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  const name = (err as { name?: string }).name;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || name === 'TimeoutError';
}

function pathOnly(p: string): string {
  return p.split('?')[0] ?? p;
}
