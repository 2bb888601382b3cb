import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { DynworkError } from '../errors.js';

const endpoint = z.object({
  index: z.number().int().min(1).max(999),
  /** Base URL, e.g. http://127.0.0.1:5000. */
  url: z.string().url(),
  /**
   * Where that manager writes the address it really bound (it moves to the next
   * free port when its port is taken). Read again when `url` stops answering.
   */
  endpointFile: z.string().optional(),
});
export type Endpoint = z.infer<typeof endpoint>;

const token = z.string().min(16, 'tokens must be at least 16 characters');

export const limitsSchema = z.object({
  /** @default 1048576 (1 MiB) */
  maxDataBytes: z.number().int().positive().default(1024 * 1024),
  /** @default 10000000 */
  maxIterations: z.number().int().positive().default(10_000_000),
  /** @default 10000 */
  maxTop: z.number().int().positive().default(10_000),
  /** Jobs in one batch enqueue. @default 10000 */
  maxBatch: z.number().int().positive().default(10_000),
  /** Whole request body. @default 16777216 (16 MiB) */
  maxBodyBytes: z.number().int().positive().default(16 * 1024 * 1024),
});
export type Limits = z.infer<typeof limitsSchema>;

const pem = (what: string) => z.string().refine((s) => s.includes(`-----BEGIN ${what}-----`), `must be a PEM ${what.toLowerCase()}`);

/**
 * The manager's identity: it serves HTTPS with this certificate, and checks
 * its peers against the cluster CA. The key is only ever named by file; the
 * CA and certificate may be given inline or by file. A relative file name is
 * read from systemd's $CREDENTIALS_DIRECTORY, else beside the config (aws
 * delivers all three from SSM that way, keeping user-data small and keyless).
 */
const managerTls = z
  .object({
    ca: pem('CERTIFICATE').optional(),
    caFile: z.string().min(1).optional(),
    cert: pem('CERTIFICATE').optional(),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1),
    /** SHA-256 of the certificate the file holds: a new certificate makes a new config (aws replaces the machine). */
    certSha256: z.string().optional(),
  })
  .refine((t) => (t.ca === undefined) !== (t.caFile === undefined), 'give exactly one of ca and caFile')
  .refine((t) => (t.cert === undefined) !== (t.certFile === undefined), 'give exactly one of cert and certFile');
export type ManagerTls = z.infer<typeof managerTls>;

/** The cluster CA's PEM (loadConfigFile reads a caFile in). */
export function clusterCa(tls: ManagerTls): string {
  if (tls.ca === undefined) throw new DynworkError('config_invalid', `tls.caFile ${tls.caFile} was not read; start the manager from its config file`);
  return tls.ca;
}

export const managerConfigSchema = z.object({
  cluster: z.string().min(1).default('default'),
  index: z.number().int().min(1).max(999),
  /** @default "127.0.0.1" */
  host: z.string().default('127.0.0.1'),
  /** Host name workers and peers use to reach this manager. @default host */
  advertiseHost: z.string().optional(),
  /** @default 5000 */
  port: z.number().int().min(0).max(65535).default(5000),
  /** How many following ports to try when `port` is taken. @default 100 */
  portTries: z.number().int().min(1).max(1000).default(100),
  dataDir: z.string().min(1),
  peers: z.array(endpoint).default([]),
  clientToken: token,
  workerToken: token,
  limits: limitsSchema.default(limitsSchema.parse({})),
  /** @default 30000 */
  leaseMs: z.number().int().positive().default(30_000),
  /** A job whose lease expired this many times is failed (poison job). @default 5 */
  maxAttempts: z.number().int().positive().default(5),
  /** How long pulled results stay readable at GET /jobs/:id. @default 86400000 (24 h) */
  retentionMs: z.number().int().nonnegative().default(24 * 3600_000),
  /** Timeout of every call to a peer manager. @default 2000 */
  peerTimeoutMs: z.number().int().positive().default(2_000),
  /** Longest a client may take to send a whole request (slow bodies are cut off). @default 30000 */
  requestTimeoutMs: z.number().int().positive().default(30_000),
  /**
   * How long results handed out by a plain /pullCompleted (and by a peer for
   * one) are held before they count as lost and return: the answer is
   * confirmed or released well before. @default 30000
   */
  deliveryLeaseMs: z.number().int().positive().default(30_000),
  /** Longest a reader may hold results under a receipt (/pullCompleted/lease). @default 3600000 (1 h) */
  maxPullLeaseMs: z.number().int().positive().default(3_600_000),
  /** Longest a lease long-poll is held open. @default 20000 */
  longPollMaxMs: z.number().int().positive().default(20_000),
  /** How often the dashboard's history is sampled (it keeps 360 samples: an hour at the default). @default 10000 */
  historyIntervalMs: z.number().int().positive().default(10_000),
  /** How often leases are checked for expiry and old results purged. @default 1000 */
  sweepIntervalMs: z.number().int().positive().default(1_000),
  /** HTTPS with the cluster's identity; without it the manager serves plain HTTP (tests, old configs). */
  tls: managerTls.optional(),
  /** Autoscaler policy and provider settings; read by the autoscaler. */
  autoscale: z.record(z.string(), z.unknown()).optional(),
  /** @default "info" */
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});
export type ManagerConfig = z.infer<typeof managerConfigSchema>;

export const workerConfigSchema = z.object({
  cluster: z.string().min(1).default('default'),
  /** @default instanceId, else "<hostname>-<pid>" */
  workerId: z.string().min(1).optional(),
  /** The provider's id for this worker (local: pid; aws: instance id). */
  instanceId: z.string().optional(),
  managers: z.array(endpoint).min(1),
  workerToken: token,
  /** PEM of the cluster CA: managers are reached over HTTPS and must prove they are this cluster's. */
  ca: pem('CERTIFICATE').optional(),
  /** Hashing threads. @default all cores */
  threads: z.number().int().positive().default(availableParallelism()),
  /** Exit after this long with nothing to do. @default 300000 (5 min) */
  idleTimeoutMs: z.number().int().positive().default(300_000),
  /** Exit when no manager has answered for this long. @default 600000 (10 min) */
  noManagerTimeoutMs: z.number().int().positive().default(600_000),
  /** Drain and exit after this long; 0 = never. @default 86400000 (24 h) */
  maxLifetimeMs: z.number().int().nonnegative().default(24 * 3600_000),
  /** Long-poll length asked of managers. @default 20000 */
  leaseWaitMs: z.number().int().positive().default(20_000),
  /** Timeout of each call to a manager (long-polls get leaseWaitMs on top). @default 5000 */
  requestTimeoutMs: z.number().int().positive().default(5_000),
  /**
   * While more jobs wait on this worker, results go to their manager in
   * batches at most this far apart (one write and one answer for several).
   * @default 250
   */
  resultBatchMs: z.number().int().nonnegative().max(60_000).default(250),
  /** @default "info" */
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});
export type WorkerConfig = z.infer<typeof workerConfigSchema>;

/** Every problem in one message, one per line, each naming its field. */
export function formatIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

export function parseConfig<T extends z.ZodTypeAny>(schema: T, value: unknown, source: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new DynworkError('config_invalid', `invalid config ${source}: ${formatIssues(r.error)}`, {
      hint: 'fix the listed fields and start again',
    });
  }
  return Object.freeze(r.data) as z.infer<T>;
}

/** Reads a role's JSON config. It holds tokens, so it must not be readable by others. */
export function loadConfigFile<T extends z.ZodTypeAny>(schema: T, file: string): z.infer<T> {
  let text: string;
  try {
    const st = statSync(file);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new DynworkError('config_invalid', `config ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, {
        hint: `chmod 600 ${file}`,
      });
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof DynworkError) throw err;
    throw new DynworkError('config_invalid', `cannot read config ${file}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DynworkError('config_invalid', `config ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(schema, resolveKeyFile(readTokenFiles(json, file), file), file);
}

/**
 * `clientTokenFile` / `workerTokenFile` name a file holding the token, so a
 * config can be shipped without secrets (aws: user-data). A relative name is
 * read from systemd's $CREDENTIALS_DIRECTORY (LoadCredential=), which only the
 * service can read, else beside the config.
 */
function readTokenFiles(json: unknown, configFile: string): unknown {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return json;
  const out: Record<string, unknown> = { ...(json as Record<string, unknown>) };
  for (const key of ['clientToken', 'workerToken']) {
    const ref = out[`${key}File`];
    if (ref === undefined) continue;
    delete out[`${key}File`];
    if (typeof ref !== 'string' || ref === '') throw new DynworkError('config_invalid', `config ${configFile}: ${key}File must be a file name`);
    const path = credentialPath(ref, configFile);
    try {
      out[key] = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new DynworkError('config_invalid', `config ${configFile}: cannot read ${key}File ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}

function credentialPath(ref: string, configFile: string): string {
  return isAbsolute(ref) ? ref : join(process.env.CREDENTIALS_DIRECTORY ?? dirname(configFile), ref);
}

/**
 * `tls` files found the way token files are: the CA read in (peers and
 * workers are checked against it), the certificate and key names made
 * absolute (the server reads them when it starts).
 */
function resolveKeyFile(json: unknown, configFile: string): unknown {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return json;
  const tls = (json as { tls?: unknown }).tls;
  if (!tls || typeof tls !== 'object' || Array.isArray(tls)) return json;
  const t: Record<string, unknown> = { ...(tls as Record<string, unknown>) };
  for (const key of ['keyFile', 'certFile']) if (typeof t[key] === 'string' && t[key] !== '') t[key] = credentialPath(t[key], configFile);
  if (typeof t.caFile === 'string' && t.caFile !== '') {
    const path = credentialPath(t.caFile, configFile);
    try {
      t.ca = readFileSync(path, 'utf8');
    } catch (err) {
      throw new DynworkError('config_invalid', `config ${configFile}: cannot read tls.caFile ${path}: ${(err as Error).message}`, { cause: err });
    }
    delete t.caFile;
  }
  return { ...json, tls: t };
}
