import { z } from 'zod';
import { DynworkError } from '../errors.js';
import { autoscaleSettingsSchema } from './autoscale.js';
import { limitsSchema } from './limits.js';

export const endpointSchema = z.object({
  index: z.number().int().min(1).max(999),
  /** Base URL, e.g. http://127.0.0.1:5000. */
  url: z.string().url(),
  /**
   * Where that manager writes the address it really bound (it moves to the next
   * free port when its port is taken). Read again when `url` stops answering.
   */
  endpointFile: z.string().optional(),
});
export type Endpoint = z.infer<typeof endpointSchema>;

export const tokenSchema = z.string().min(16, 'tokens must be at least 16 characters');

export const pem = (what: string) => z.string().refine((s) => s.includes(`-----BEGIN ${what}-----`), `must be a PEM ${what.toLowerCase()}`);

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
  peers: z.array(endpointSchema).default([]),
  clientToken: tokenSchema,
  workerToken: tokenSchema,
  limits: limitsSchema.default(limitsSchema.parse({})),
  /** @default 30000 */
  leaseMs: z.number().int().positive().default(30_000),
  /** A job whose lease expired this many times is failed (poison job). @default 5 */
  maxAttempts: z.number().int().positive().default(5),
  /** How long pulled results stay readable at GET /jobs/:id. @default 86400000 (24 h) */
  retentionMs: z
    .number()
    .int()
    .nonnegative()
    .default(24 * 3600_000),
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
  /**
   * How long a woken /pullCompleted long-poll waits for more results while
   * workers still hold jobs here, so that it answers with several at once;
   * it answers as soon as the last of them is in. @default 100
   */
  pullLingerMs: z.number().int().nonnegative().default(100),
  /** Longest a lease long-poll is held open. @default 20000 */
  longPollMaxMs: z.number().int().positive().default(20_000),
  /** How often the dashboard's history is sampled (it keeps 360 samples: an hour at the default). @default 10000 */
  historyIntervalMs: z.number().int().positive().default(10_000),
  /** How often leases are checked for expiry and old results purged. @default 1000 */
  sweepIntervalMs: z.number().int().positive().default(1_000),
  /** HTTPS with the cluster's identity; without it the manager serves plain HTTP (tests, old configs). */
  tls: managerTls.optional(),
  /** Autoscaler policy and provider settings; read by the autoscaler. */
  autoscale: autoscaleSettingsSchema.optional(),
  /** @default "info" */
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});
export type ManagerConfig = z.infer<typeof managerConfigSchema>;
/** A config as written (defaults may be left out): what deploy and the leader hand a provider. */
export type ManagerConfigInput = z.input<typeof managerConfigSchema>;
